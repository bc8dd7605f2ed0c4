package push

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func testKeys(t testing.TB, seeds ...byte) *Keys {
	t.Helper()
	var sks [][]byte
	for _, s := range seeds {
		sks = append(sks, bytes.Repeat([]byte{s}, 32))
	}
	k, err := NewKeys(sks)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func routingFor(t testing.TB, tg Target) *Routing {
	issued := time.Unix(1_800_000_000, 0)
	return &Routing{Target: tg, Watch: KindMail, Alert: true, Account: "work",
		Issued: issued, NotAfter: issued.Add(37 * 24 * time.Hour)}
}

func testTargets(t testing.TB) map[string]Target {
	key, auth, err := DecodeWebPushKeys(rfcUAPublic, rfcAuth)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Target{
		"apns":         {Platform: PlatformAPNs, Token: strings.ToUpper(goodToken)},
		"apns sandbox": {Platform: PlatformAPNs, Env: EnvSandbox, Token: goodToken},
		"fcm token":    {Platform: PlatformFCM, Token: testFCMToken},
		"fcm fid":      {Platform: PlatformFCM, FID: "cAbCdEfGhIjKlMnOpQrStU"},
		"webpush":      {Platform: PlatformWebPush, Endpoint: "https://fcm.googleapis.com/fcm/send/abc:def", P256dh: key, Auth: auth},
	}
}

func TestRoutingRoundTrip(t *testing.T) {
	k := testKeys(t, 1)
	for name, tg := range testTargets(t) {
		t.Run(name, func(t *testing.T) {
			in := routingFor(t, tg)
			blob, err := k.SealRouting(in, "install-1", "TENANT-guid", "user-GUID")
			if err != nil {
				t.Fatal(err)
			}
			out, err := k.OpenRouting(blob)
			if err != nil {
				t.Fatal(err)
			}
			if !SameTarget(&out.Target, &tg) || out.Watch != in.Watch || out.Alert != in.Alert || out.Account != in.Account ||
				!out.Issued.Equal(in.Issued) || !out.NotAfter.Equal(in.NotAfter) || !out.Bound() || out.KeyID() != k.FirstKeyID() {
				t.Fatalf("opened %+v, sealed %+v", out, in)
			}
			if !k.SameDevice(out, "install-1") || k.SameDevice(out, "install-2") {
				t.Fatal("device hash")
			}
			if !k.SameUser(out, "tenant-GUID", "USER-guid") || k.SameUser(out, "tenant-guid", "other") {
				t.Fatal("user binding")
			}
			if strings.Contains(blob, "work") || strings.Contains(blob, "install") {
				t.Fatal("R shows its content")
			}
		})
	}
}

func TestRoutingSizes(t *testing.T) {
	k := testKeys(t, 1)
	tg := testTargets(t)["apns"]
	blob, _ := k.SealRouting(routingFor(t, tg), "install-1", "t", "u")
	// 17 header + 2+8+8+8+5+2+32 record + 16 tag = 98 bytes.
	if len(blob) != 131 {
		t.Fatalf("APNs R is %d characters", len(blob))
	}
	cs, _ := k.ClientState(blob)
	if len(cs) != 43 {
		t.Fatalf("clientState %d characters", len(cs))
	}
}

func TestRoutingRefusesTamperingAndOtherKeys(t *testing.T) {
	k := testKeys(t, 1)
	blob, err := k.SealRouting(routingFor(t, testTargets(t)["fcm token"]), "d", "", "")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(blob)
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		if _, err := k.OpenRouting(base64.RawURLEncoding.EncodeToString(bad)); err != ErrRouting {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	for _, s := range []string{"", "AAAA", blob[:len(blob)-2], blob + "A", blob + "==", strings.Repeat("A", MaxRoutingLen+4)} {
		if _, err := k.OpenRouting(s); err != ErrRouting {
			t.Fatalf("%.20q opened: %v", s, err)
		}
	}
	if _, err := testKeys(t, 2).OpenRouting(blob); err != ErrRouting {
		t.Fatal("opened with a key that did not seal it")
	}
}

func TestRoutingKeyRotation(t *testing.T) {
	old := testKeys(t, 1)
	blob, _ := old.SealRouting(routingFor(t, testTargets(t)["webpush"]), "d", "", "")
	cs, _ := old.ClientState(blob)
	rotated := testKeys(t, 2, 1) // new key first, old key still configured
	r, err := rotated.OpenRouting(blob)
	if err != nil {
		t.Fatal(err)
	}
	if r.KeyID() == rotated.FirstKeyID() || r.KeyID() != old.FirstKeyID() {
		t.Fatal("rotation: R's key id should name the old key")
	}
	if !rotated.CheckClientState(blob, cs) || !rotated.SameDevice(r, "d") {
		t.Fatal("clientState or device hash broken by rotation")
	}
	if !rotated.SameUser(r, "any", "one") {
		t.Fatal("unbound R must match any user")
	}
	if _, err := testKeys(t, 2).OpenRouting(blob); err == nil {
		t.Fatal("opened after the old key was dropped")
	}
}

func TestClientState(t *testing.T) {
	k := testKeys(t, 1)
	a, _ := k.SealRouting(routingFor(t, testTargets(t)["apns"]), "d", "", "")
	b, _ := k.SealRouting(routingFor(t, testTargets(t)["apns"]), "d", "", "")
	csA, err := k.ClientState(a)
	if err != nil {
		t.Fatal(err)
	}
	if !k.CheckClientState(a, csA) || k.CheckClientState(b, csA) || k.CheckClientState(a, csA[:42]) || k.CheckClientState(a, "") {
		t.Fatal("clientState check")
	}
	if _, err := k.ClientState("garbage!"); err == nil {
		t.Fatal("clientState for garbage")
	}
}

func TestRoutingSealChecks(t *testing.T) {
	k := testKeys(t, 1)
	good := routingFor(t, testTargets(t)["apns"])
	bad := []func(*Routing){
		func(r *Routing) { r.Watch = KindRenew },
		func(r *Routing) { r.Account = "no spaces" },
		func(r *Routing) { r.NotAfter = r.Issued },
		func(r *Routing) { r.Target.Token = "xyz" },
	}
	for i, edit := range bad {
		r := *good
		edit(&r)
		if _, err := k.SealRouting(&r, "d", "", ""); err == nil {
			t.Errorf("case %d sealed", i)
		}
	}
	if !good.Expired(good.NotAfter.Add(time.Second)) || good.Expired(good.NotAfter) {
		t.Fatal("Expired")
	}
}

func TestRefs(t *testing.T) {
	k := testKeys(t, 1)
	id := "AAMkAGI2THVSAAA=" + strings.Repeat("x", 240)
	ref, err := k.SealRef(id)
	if err != nil {
		t.Fatal(err)
	}
	m := Message{Kind: KindMail, Alert: true, CollapseID: k.CollapseID(id), Refs: []string{ref, ref, ref, ref, ref}}
	if err := m.Validate(); err != nil {
		t.Fatalf("a ref of a 256-byte id does not fit a message: %v", err)
	}
	if p, _ := APNsPayload(&m); len(p) > apnsMaxPayload {
		t.Fatalf("five refs make a %d-byte APNs payload", len(p))
	}
	got, err := testKeys(t, 2, 1).OpenRef(ref)
	if err != nil || got != id {
		t.Fatalf("OpenRef after rotation: %q %v", got, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(ref)
	raw[len(raw)-1] ^= 1
	if _, err := k.OpenRef(base64.RawURLEncoding.EncodeToString(raw)); err != ErrRef {
		t.Fatal("tampered ref opened")
	}
	if _, err := k.SealRef(strings.Repeat("x", 257)); err == nil {
		t.Fatal("overlong id sealed")
	}
	if c := k.CollapseID(id); len(c) != 22 || c != k.CollapseID(id) || c == k.CollapseID(id+"2") {
		t.Fatalf("collapse id %q", c)
	}
}

func TestKeysArePurposeBound(t *testing.T) {
	k := testKeys(t, 1)
	s := k.sets[0]
	macKeys := [][]byte{s.clientState, s.collapse, s.device, s.binding}
	for i := range macKeys {
		if bytes.Equal(macKeys[i], bytes.Repeat([]byte{1}, 32)) {
			t.Fatal("a derived key equals the state key")
		}
		for j := i + 1; j < len(macKeys); j++ {
			if bytes.Equal(macKeys[i], macKeys[j]) {
				t.Fatalf("keys %d and %d are equal", i, j)
			}
		}
	}
	// A ref does not open as R and the other way round.
	ref, _ := k.SealRef("id")
	if _, err := k.OpenRouting(ref); err == nil {
		t.Fatal("ref opened as R")
	}
	if _, err := NewKeys([][]byte{make([]byte, 8)}); err == nil {
		t.Fatal("short state key accepted")
	}
	if _, err := NewKeys([][]byte{make([]byte, 32), make([]byte, 32)}); err == nil {
		t.Fatal("repeated state key accepted")
	}
}

func FuzzOpenRouting(f *testing.F) {
	k := testKeys(f, 1)
	for _, tg := range testTargets(f) {
		b, err := k.SealRouting(routingFor(f, tg), "d", "t", "u")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add("AQAAAAA")
	f.Fuzz(func(t *testing.T, blob string) {
		r, err := k.OpenRouting(blob)
		if err != nil {
			return
		}
		if r.Target.Validate() != nil || watchCode(r.Watch) == 0 {
			t.Fatalf("opened an invalid routing %+v", r)
		}
		k.CheckClientState(blob, "x")
	})
}

// FuzzDecodeRouting reaches the record parser behind the AEAD.
func FuzzDecodeRouting(f *testing.F) {
	k := testKeys(f, 1)
	for _, tg := range testTargets(f) {
		b, _ := k.SealRouting(routingFor(f, tg), "d", "t", "u")
		raw, _ := base64.RawURLEncoding.DecodeString(b)
		rec, err := k.sets[0].routing.Open(nil, raw[5:routingHeaderLen], raw[routingHeaderLen:], raw[:5])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		r, ok := decodeRouting(rec)
		if !ok {
			return
		}
		if r.Target.Validate() != nil || r.Account != "" && !isTag(r.Account, maxAccountLen) {
			t.Fatalf("accepted invalid record %+v", r)
		}
	})
}

func FuzzOpenRef(f *testing.F) {
	k := testKeys(f, 1)
	ref, _ := k.SealRef("AAMkAGI2")
	f.Add(ref)
	f.Fuzz(func(t *testing.T, s string) {
		if id, err := k.OpenRef(s); err == nil && id == "" {
			t.Fatal("empty id opened")
		}
	})
}

func BenchmarkOpenRouting(b *testing.B) {
	k := testKeys(b, 2, 1)
	old := testKeys(b, 1)
	blob, _ := old.SealRouting(routingFor(b, testTargets(b)["apns"]), "d", "t", "u")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.OpenRouting(blob); err != nil {
			b.Fatal(err)
		}
	}
}
