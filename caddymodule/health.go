package caddymodule

import (
	"net/http"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// healthBody is the answer of the health endpoint.
const healthBody = `{"status":"ok"}`

// serveHealth answers {prefix}/health for a load balancer's active health
// check: 200 from this node's own state alone. It takes no token, calls
// no upstream (a check every few seconds from every balancer must not cost
// Graph budget) and says nothing about users or configuration. Like every
// device endpoint it is served over TLS only.
func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return h.writeError(w, errHealthMethod)
	}
	header := w.Header()
	header.Set("Content-Type", "application/json")
	header.Set("Cache-Control", "no-store")
	header.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, err := w.Write([]byte(healthBody))
		return err
	}
	return nil
}

// errHealthMethod answers a health check that is neither GET nor HEAD.
var errHealthMethod = translate.NewError(http.StatusMethodNotAllowed, translate.CodeMethodNotAllowed,
	"the health endpoint takes GET or HEAD")
