package push

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// flakyAPNs answers 503 while failing is set, 200 otherwise; with hold set
// it keeps each request until release is closed.
func flakyAPNs(t *testing.T, failing *atomic.Bool, hold chan struct{}) *h2Server {
	return newH2Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"reason":"ServiceUnavailable"}`))
		}
	}))
}

func TestBreakerProbeClosesAfterTheProviderRecovers(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	srv := flakyAPNs(t, &failing, nil)
	s, err := NewAPNs(APNsOptions{Key: newP256(t), KeyID: testKeyID, TeamID: testTeamID, Topic: testTopic,
		Endpoint: srv.URL, RootCAs: srv.pool(), Breaker: BreakerOptions{Threshold: 2, Cooldown: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tg, m := apnsTarget(goodToken), &Message{Kind: KindMail}
	s.Send(context.Background(), tg, m)
	s.Send(context.Background(), tg, m)
	if r := s.Send(context.Background(), tg, m); r.Outcome != Unavailable {
		t.Fatalf("after two 503s: %v", r.Outcome)
	}
	failing.Store(false)
	time.Sleep(60 * time.Millisecond) // the cool-down
	if s.Breaker(tg).Open() {
		t.Fatal("still open after the cool-down with no probe in flight")
	}
	if r := s.Send(context.Background(), tg, m); r.Outcome != Delivered {
		t.Fatalf("probe: %v %v", r.Outcome, r.Err)
	}
	if s.Breaker(tg).Open() {
		t.Fatal("a successful probe left the breaker open")
	}
}

func TestSendBoundDropsWithoutBlamingTheProvider(t *testing.T) {
	var failing atomic.Bool
	hold := make(chan struct{})
	srv := flakyAPNs(t, &failing, hold)
	s, err := NewAPNs(APNsOptions{Key: newP256(t), KeyID: testKeyID, TeamID: testTeamID, Topic: testTopic,
		Endpoint: srv.URL, RootCAs: srv.pool(), Inflight: NewInflight(1), Breaker: BreakerOptions{Threshold: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tg, m := apnsTarget(goodToken), &Message{Kind: KindMail}
	first := make(chan Result)
	go func() { first <- s.Send(context.Background(), tg, m) }()
	for s.core.inflight.InUse() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	r := s.Send(ctx, tg, m)
	cancel()
	if r.Outcome != Dropped {
		t.Fatalf("send beyond the bound: %v %v", r.Outcome, r.Err)
	}
	if s.Breaker(tg).Open() {
		t.Fatal("a local drop opened the breaker")
	}
	close(hold)
	if r := <-first; r.Outcome != Delivered {
		t.Fatalf("first send: %v %v", r.Outcome, r.Err)
	}
}

func TestCallerCancellationIsDropped(t *testing.T) {
	var failing atomic.Bool
	hold := make(chan struct{})
	defer close(hold)
	srv := flakyAPNs(t, &failing, hold)
	s, err := NewAPNs(APNsOptions{Key: newP256(t), KeyID: testKeyID, TeamID: testTeamID, Topic: testTopic,
		Endpoint: srv.URL, RootCAs: srv.pool(), Breaker: BreakerOptions{Threshold: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	r := s.Send(ctx, apnsTarget(goodToken), &Message{Kind: KindMail})
	if r.Outcome != Dropped || s.Breaker(apnsTarget(goodToken)).Open() {
		t.Fatalf("cancelled send: %v, breaker open %v", r.Outcome, s.Breaker(apnsTarget(goodToken)).Open())
	}
}

func TestSenders(t *testing.T) {
	var s Senders
	if s.For(PlatformAPNs) != nil || s.For(PlatformFCM) != nil || s.For(PlatformWebPush) != nil {
		t.Fatal("unconfigured platform has a sender")
	}
	w, err := NewWebPush(WebPushOptions{VAPIDKey: newP256(t), Subject: "mailto:a@example.com", AllowHosts: []string{"fcm.googleapis.com"}})
	if err != nil {
		t.Fatal(err)
	}
	s.WebPush = w
	if s.For(PlatformWebPush) == nil || s.For(PlatformAPNs) != nil || s.For(0) != nil {
		t.Fatal("For")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
