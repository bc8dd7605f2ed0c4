package pushemulator

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// The benchmarks say what one accepted push costs the emulator, so a
// latency harness of the senders knows how much of its time is the double.

func BenchmarkAPNsPush(b *testing.B) {
	s, clock := newTestServer(b, Options{RecordLimit: 64})
	tmpl := apnsRequest(b, clock.Now())
	body := []byte(`{"aps":{"content-available":1},"k":"mail"}`)
	benchmarkRequests(b, s, tmpl, body, http.StatusOK)
}

func BenchmarkFCMSend(b *testing.B) {
	s, clock := newTestServer(b, Options{RecordLimit: 64})
	token := accessToken(b, s, clock.Now())
	benchmarkRequests(b, s, sendRequest(token, DefaultFCMProject, ""), []byte(dataMessage), http.StatusOK)
}

func BenchmarkWebPush(b *testing.B) {
	s, clock := newTestServer(b, Options{RecordLimit: 64})
	sub, err := s.NewWebPushSubscription(testOrigin, WebPushSubscriptionSpec{})
	if err != nil {
		b.Fatal(err)
	}
	tmpl := webPushClient{key: testOtherECKey}.push(b, sub, `{"k":"mail","a":"work","m":["r1","r2"]}`, clock.Now())
	body, _ := io.ReadAll(tmpl.Body)
	benchmarkRequests(b, s, tmpl, body, http.StatusCreated)
}

func benchmarkRequests(b *testing.B, s *Server, tmpl *http.Request, body []byte, want int) {
	b.ReportAllocs()
	for b.Loop() {
		r := tmpl.Clone(tmpl.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		if w := serve(s, r); w.Code != want {
			b.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	}
}
