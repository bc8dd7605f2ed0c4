// Package tls holds devicebridge's TLS policy: whether a device request
// arrived TLS-protected (directly, or through a proxy Caddy trusts), and
// whether an upstream base URL is acceptable for the upstream leg.
//
// Importers usually alias it (bridgetls) to keep crypto/tls at hand.
package tls
