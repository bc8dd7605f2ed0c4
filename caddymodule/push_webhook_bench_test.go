package caddymodule

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/devicebridge/caddy-devicebridge/push"
)

// BenchmarkPushWebhook measures one change notification from Graph's POST
// to the push accepted by a local HTTP/2 APNs double (which answers 200 at
// once): opening R, the item checks, sealing the message reference, the
// limits and the send over a reused connection. Each iteration uses its
// own R, so no push is held back by the per-R limits.
func BenchmarkPushWebhook(b *testing.B) {
	var received atomic.Int64
	apns := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { received.Add(1) }))
	apns.EnableHTTP2 = true
	apns.StartTLS()
	defer apns.Close()
	roots := x509.NewCertPool()
	roots.AddCert(apns.Certificate())
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	sender, err := push.NewAPNs(push.APNsOptions{Key: key, KeyID: "ABCDE12345", TeamID: "TEAM123456",
		Topic: "com.example.mail", Endpoint: apns.URL, RootCAs: roots})
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()

	p, _, _ := testPushRuntime(b, false)
	p.senders = &push.Senders{APNs: sender}
	p.sendTimeout = 1500 * time.Millisecond
	p.limits = newPushLimits(DefaultMaxTrackedRoutes)
	h := &Handler{push: p, metrics: newMetrics(), logger: zap.NewNop()}

	now := time.Now()
	blobs := make([]string, b.N)
	bodies := make([][]byte, b.N)
	for i := range blobs {
		r := &push.Routing{
			Target: push.Target{Platform: push.PlatformAPNs, Token: fmt.Sprintf("%064x", i+1)},
			Watch:  push.KindMail, Alert: true, Account: "work", Issued: now, NotAfter: now.Add(36 * 24 * time.Hour),
		}
		if blobs[i], err = p.keys.SealRouting(r, "phone-1", "", ""); err != nil {
			b.Fatal(err)
		}
		bodies[i] = body(b, changeItem(b, p, blobs[i], "created", "Users/uid-1/Messages/AAMk", "tid-1"))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "https://bridge.example/device/v1/push/n/"+blobs[i], bytes.NewReader(bodies[i]))
		rec := httptest.NewRecorder()
		_ = h.servePushWebhook(rec, req, webhookChange, blobs[i])
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	if n := received.Load(); n != int64(b.N) {
		b.Fatalf("the APNs double received %d pushes for %d notifications", n, b.N)
	}
}
