package emulator

import "net/http"

// Inflight is a mailbox's count of Graph requests being served, and the
// most it has served at once since the mailbox was created or the maximum
// was last reset. It shows whether a fleet of bridge nodes kept a
// mailbox within Graph's limit of 4 concurrent requests.
type Inflight struct {
	// Max is the most requests served at once.
	Max int32 `json:"max"`
	// Now is the requests being served now.
	Now int32 `json:"now"`
}

// enter counts a request of the mailbox in and returns the count with it;
// the caller calls leave when the request is answered.
func (mb *mailbox) enter() int32 {
	n := mb.inflight.Add(1)
	for {
		seen := mb.maxInflight.Load()
		if n <= seen || mb.maxInflight.CompareAndSwap(seen, n) {
			return n
		}
	}
}

// leave counts a request of the mailbox out.
func (mb *mailbox) leave() { mb.inflight.Add(-1) }

// MailboxInflight reports the in-flight counts of the mailbox of token.
func (s *Server) MailboxInflight(token string) (Inflight, error) {
	mb := s.mailboxByToken(token)
	if mb == nil {
		return Inflight{}, controlErr(http.StatusNotFound, "no mailbox with this token")
	}
	return Inflight{Max: mb.maxInflight.Load(), Now: mb.inflight.Load()}, nil
}

// ResetMailboxInflight sets the maximum of the mailbox of token to the
// requests in flight now.
func (s *Server) ResetMailboxInflight(token string) error {
	mb := s.mailboxByToken(token)
	if mb == nil {
		return controlErr(http.StatusNotFound, "no mailbox with this token")
	}
	mb.maxInflight.Store(mb.inflight.Load())
	return nil
}

// serveInflightControl serves GET (the counts) and DELETE (reset the
// maximum) of {prefix}/mailboxes/{token}/inflight.
func (s *Server) serveInflightControl(w http.ResponseWriter, r *http.Request, token string) {
	switch r.Method {
	case http.MethodGet:
		in, err := s.MailboxInflight(token)
		if err != nil {
			writeControlError(w, err)
			return
		}
		writeControlJSON(w, http.StatusOK, in)
	case http.MethodDelete:
		if err := s.ResetMailboxInflight(token); err != nil {
			writeControlError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeControlError(w, controlErr(http.StatusMethodNotAllowed, "method not allowed"))
	}
}
