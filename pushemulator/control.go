package pushemulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Control API (tests and demos only; no authentication):
//
//	GET    {prefix}/apns/key                → 200 APNsKey
//	POST   {prefix}/apns/tokens             {"token","environment"} → 204
//	GET    {prefix}/fcm/credentials         → 200 service-account JSON
//	POST   {prefix}/webpush/subscriptions   WebPushSubscriptionSpec (body optional) → 201 WebPushSubscription
//	GET    {prefix}/sent                    ?service=&target=&after=&delivered=1&wait=&count= → 200 [Push]
//	DELETE {prefix}/sent                    → 204
//	POST   {prefix}/unregister              Unregistration → 204
//	POST   {prefix}/faults                  FaultRule → 201
//	GET    {prefix}/faults                  → 200 [FaultRule]
//	DELETE {prefix}/faults                  → 204
//	GET    {prefix}/stats                   → 200 {service: ServiceStats}
//	DELETE {prefix}/stats                   → 204
//
// GET /sent with wait (a Go duration, at most 30s) waits until at least
// count (default 1) records match.

// maxControlBody bounds control API request bodies.
const maxControlBody = 1 << 20

// maxSentWait bounds GET /sent?wait=.
const maxSentWait = 30 * time.Second

// ControlError is an error of the control API or the Server's Go API, with
// the HTTP status the control API answers.
type ControlError struct {
	// Status is the HTTP status.
	Status int
	// Message says what went wrong.
	Message string
}

// Error implements error.
func (e *ControlError) Error() string { return e.Message }

func controlErr(status int, msg string) error { return &ControlError{Status: status, Message: msg} }

// Unregistration marks a push target unregistered: later pushes to it get
// the service's answer for a dead target (APNs 410, FCM 404 UNREGISTERED,
// Web Push 410).
type Unregistration struct {
	// Service is "apns", "fcm" or "webpush".
	Service string `json:"service"`
	// Target is the APNs device token (hex), the FCM registration token or
	// FID, or the Web Push subscription id or endpoint.
	Target string `json:"target"`
	// Reason is the APNs reason: "Unregistered" (default) or "ExpiredToken".
	Reason string `json:"reason,omitempty"`
}

// Unregister marks a target unregistered.
func (s *Server) Unregister(u Unregistration) error {
	if u.Target == "" {
		return controlErr(http.StatusBadRequest, "target is required")
	}
	switch u.Service {
	case ServiceAPNs:
		switch u.Reason {
		case "":
			u.Reason = ReasonUnregistered
		case ReasonUnregistered, ReasonExpiredToken:
		default:
			return controlErr(http.StatusBadRequest, "reason must be Unregistered or ExpiredToken")
		}
		u.Target = strings.ToLower(u.Target)
	case ServiceFCM:
		if u.Reason != "" {
			return controlErr(http.StatusBadRequest, "reason applies to apns only")
		}
	case ServiceWebPush:
		id := u.Target
		if i := strings.LastIndex(id, s.opts.WebPushPath+"/"); i >= 0 && strings.Contains(id, "://") {
			id = id[i+len(s.opts.WebPushPath)+1:]
		}
		if !s.unsubscribeWebPush(id) {
			return controlErr(http.StatusNotFound, "no such subscription")
		}
		return nil
	default:
		return controlErr(http.StatusBadRequest, `service must be "apns", "fcm" or "webpush"`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unregistered) >= 100000 {
		return controlErr(http.StatusInsufficientStorage, "too many unregistered targets")
	}
	s.unregistered[targetKey{u.Service, u.Target}] = unregistration{reason: u.Reason, at: s.opts.Now()}
	return nil
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeControlError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var ce *ControlError
	if errors.As(err, &ce) {
		status = ce.Status
	}
	writeControlJSON(w, status, map[string]any{"error": map[string]string{"message": err.Error()}})
}

// readControlJSON decodes a JSON body into v; allowEmpty accepts no body.
func readControlJSON(r *http.Request, v any, allowEmpty bool) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil {
		return controlErr(http.StatusBadRequest, "cannot read body")
	}
	if len(body) > maxControlBody {
		return controlErr(http.StatusRequestEntityTooLarge, "body too large")
	}
	if allowEmpty && len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return controlErr(http.StatusBadRequest, "invalid JSON: "+err.Error())
	}
	return nil
}

// serveControl serves the control API; rel is the path after the prefix.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request, rel string) {
	route := strings.Trim(rel, "/")
	method := func(allowed ...string) bool {
		for _, m := range allowed {
			if r.Method == m {
				return true
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeControlError(w, controlErr(http.StatusMethodNotAllowed, "method not allowed"))
		return false
	}
	switch route {
	case "apns/key":
		if method(http.MethodGet) {
			writeControlJSON(w, http.StatusOK, s.APNsKey())
		}
	case "apns/tokens":
		if !method(http.MethodPost) {
			return
		}
		var in struct {
			Token       string `json:"token"`
			Environment string `json:"environment"`
		}
		if err := readControlJSON(r, &in, false); err != nil {
			writeControlError(w, err)
			return
		}
		if err := s.SetAPNsTokenEnvironment(in.Token, in.Environment); err != nil {
			writeControlError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "fcm/credentials":
		if !method(http.MethodGet) {
			return
		}
		data, err := s.FCMCredentials(s.origin(r))
		if err != nil {
			writeControlError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data)
	case "webpush/subscriptions":
		if !method(http.MethodPost) {
			return
		}
		var spec WebPushSubscriptionSpec
		if err := readControlJSON(r, &spec, true); err != nil {
			writeControlError(w, err)
			return
		}
		sub, err := s.NewWebPushSubscription(s.origin(r), spec)
		if err != nil {
			writeControlError(w, err)
			return
		}
		writeControlJSON(w, http.StatusCreated, sub)
	case "sent":
		switch r.Method {
		case http.MethodGet:
			s.serveSent(w, r)
		case http.MethodDelete:
			s.ClearSent()
			w.WriteHeader(http.StatusNoContent)
		default:
			method(http.MethodGet, http.MethodDelete)
		}
	case "unregister":
		if !method(http.MethodPost) {
			return
		}
		var u Unregistration
		if err := readControlJSON(r, &u, false); err != nil {
			writeControlError(w, err)
			return
		}
		if err := s.Unregister(u); err != nil {
			writeControlError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "faults":
		switch r.Method {
		case http.MethodPost:
			var rule FaultRule
			if err := readControlJSON(r, &rule, false); err != nil {
				writeControlError(w, err)
				return
			}
			if err := s.AddFault(rule); err != nil {
				writeControlError(w, controlErr(http.StatusBadRequest, err.Error()))
				return
			}
			writeControlJSON(w, http.StatusCreated, rule)
		case http.MethodGet:
			writeControlJSON(w, http.StatusOK, s.Faults())
		case http.MethodDelete:
			s.ClearFaults()
			w.WriteHeader(http.StatusNoContent)
		default:
			method(http.MethodGet, http.MethodPost, http.MethodDelete)
		}
	case "stats":
		switch r.Method {
		case http.MethodGet:
			writeControlJSON(w, http.StatusOK, s.Stats())
		case http.MethodDelete:
			s.ResetStats()
			w.WriteHeader(http.StatusNoContent)
		default:
			method(http.MethodGet, http.MethodDelete)
		}
	default:
		writeControlError(w, controlErr(http.StatusNotFound, "no such control endpoint"))
	}
}

// serveSent lists the record, optionally filtered and waiting.
func (s *Server) serveSent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := PushFilter{Service: q.Get("service"), Target: q.Get("target")}
	if f.Service == ServiceAPNs {
		f.Target = strings.ToLower(f.Target)
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeControlError(w, controlErr(http.StatusBadRequest, "after must be a sequence number"))
			return
		}
		f.AfterSeq = n
	}
	switch q.Get("delivered") {
	case "", "0", "false":
	case "1", "true":
		f.DeliveredOnly = true
	default:
		writeControlError(w, controlErr(http.StatusBadRequest, "delivered must be true or false"))
		return
	}
	wait := time.Duration(0)
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxSentWait {
			writeControlError(w, controlErr(http.StatusBadRequest, "wait must be a duration up to 30s"))
			return
		}
		wait = d
	}
	count := 1
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeControlError(w, controlErr(http.StatusBadRequest, "count must be a positive number"))
			return
		}
		count = n
	}
	var out []Push
	if wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		out = s.WaitSent(ctx, f, count)
		cancel()
	} else {
		out = s.Sent(f)
	}
	writeControlJSON(w, http.StatusOK, out)
}
