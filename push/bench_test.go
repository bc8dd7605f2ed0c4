package push

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkAPNsSend measures one background push over a reused HTTP/2
// connection to a local APNs double, client side included.
func BenchmarkAPNsSend(b *testing.B) {
	srv := newH2Server(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	s, err := NewAPNs(APNsOptions{Key: newP256(b), KeyID: testKeyID, TeamID: testTeamID, Topic: testTopic,
		Endpoint: srv.URL, RootCAs: srv.pool()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tg, m := apnsTarget(goodToken), &Message{Kind: KindMail, Account: "work"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := s.Send(context.Background(), tg, m); r.Outcome != Delivered {
				b.Fatal(r.Err)
			}
		}
	})
}
