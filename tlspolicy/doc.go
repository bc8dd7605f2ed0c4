// Package tlspolicy holds devicebridge's TLS policy: whether a device
// request arrived TLS-protected (directly, or through a proxy Caddy
// trusts), and whether an upstream base URL and transport keep TLS on the
// upstream leg.
package tlspolicy
