// Package cluster holds the multi-process tests of the one-machine
// cluster in this directory: separate Caddy processes built from
// ./cmd/caddy (the Graph emulator, bridge nodes sharing state keys and a
// file_system storage directory, and an edge load balancer) started from
// the Caddyfiles here, on loopback ports 9600–9649. run.sh starts the
// same cluster by hand.
package cluster
