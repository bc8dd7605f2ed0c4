package api

import (
	"slices"
	"testing"

	"github.com/devicebridge/caddy-devicebridge/translate"
)

// TestSpecListsExactlyTheTranslatorsOps holds the description and the code
// together: an op the command table serves but the spec lacks (a device
// developer would never learn of it), or an op the spec promises but the
// table does not serve (generated clients would call it and get
// invalid_args), fails here.
func TestSpecListsExactlyTheTranslatorsOps(t *testing.T) {
	c, err := NewChecker()
	if err != nil {
		t.Fatal(err)
	}
	spec := slices.Sorted(slices.Values(c.Ops()))
	table := slices.Sorted(slices.Values(translate.Ops()))
	for _, op := range table {
		if !slices.Contains(spec, op) {
			t.Errorf("the command table serves %s, which api/openapi.yaml does not describe", op)
		}
	}
	for _, op := range spec {
		if !slices.Contains(table, op) {
			t.Errorf("api/openapi.yaml describes %s, which the command table does not serve", op)
		}
	}
	if len(table) == 0 {
		t.Fatal("the command table lists no op")
	}
}
