package main

import (
	"context"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
)

// TestSample: get and patch pick from a sample of the users; by default a
// small one, and with a sample as large as the users, every user once.
func TestSample(t *testing.T) {
	srv := apptest.Start(t)
	for _, c := range []struct {
		sample, want int
	}{
		{250, 250},
		{100, 100},
		{0, 250}, // the default, 5,000, is more than there are
	} {
		b := newBench(srv.URL+"/scim/v2", apptest.Token, "sample-user-", 4)
		b.sample = c.sample
		if err := b.prepare(context.Background(), 250, 4, t.Output()); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, id := range b.ids {
			if seen[id] {
				t.Fatalf("sample %d: id %s sampled twice", c.sample, id)
			}
			seen[id] = true
		}
		if len(seen) != c.want {
			t.Errorf("sample %d: %d users sampled, want %d", c.sample, len(seen), c.want)
		}
	}
}
