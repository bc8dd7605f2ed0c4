// Package push sends content-free pushes to APNs, FCM and Web Push for
// devicebridge. It imports no Caddy; the API is described in full once all
// senders are in place.
package push
