package emulator

import (
	"sync"
	"time"
)

// DeliveryRecord is one POST the emulator made to a subscriber.
type DeliveryRecord struct {
	// Kind is "validation", "notification" or "lifecycle".
	Kind string `json:"kind"`
	// Host is the target's host (the path is not logged).
	Host string `json:"host"`
	// Attempt counts from 1 for each notification POST and its retries.
	Attempt int `json:"attempt"`
	// Status is the HTTP answer's status; 0 when there was none.
	Status int `json:"status,omitempty"`
	// Error is "timeout", "connection", "cancelled" or "bad url" when no
	// answer came.
	Error string `json:"error,omitempty"`
	// Millis is how long the POST took.
	Millis int64 `json:"ms"`
	// Dropped is set on the last failed attempt before the notification
	// was given up.
	Dropped bool `json:"dropped,omitempty"`
	// Time is when the attempt started.
	Time time.Time `json:"time"`
}

// deliveryLog keeps the last POST attempts.
type deliveryLog struct {
	mu   sync.Mutex
	size int
	recs []DeliveryRecord
}

func newDeliveryLog(size int) *deliveryLog { return &deliveryLog{size: size} }

func (l *deliveryLog) add(r DeliveryRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.recs) >= l.size {
		l.recs = append(l.recs[:0:0], l.recs[len(l.recs)-l.size+1:]...)
	}
	l.recs = append(l.recs, r)
}

func (l *deliveryLog) list() []DeliveryRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]DeliveryRecord{}, l.recs...)
}

func (l *deliveryLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = nil
}
