package ratelimit

import (
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	b := NewBuckets(1, 2)
	now := time.Unix(1000, 0)
	for i := 0; i < 2; i++ {
		if ok, _ := b.Allow("k", now); !ok {
			t.Fatalf("within burst %d", i)
		}
	}
	ok, wait := b.Allow("k", now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("over burst: %v %v", ok, wait)
	}
	if ok, _ := b.Allow("other", now); !ok {
		t.Fatal("keys share a bucket")
	}
	if ok, _ := b.Allow("k", now.Add(time.Second)); !ok {
		t.Fatal("no refill")
	}
	if ok, _ := b.Allow("", now); !ok {
		t.Fatal("empty key limited")
	}
	var none *Buckets
	if ok, _ := none.Allow("k", now); !ok || NewBuckets(0, 5) != nil {
		t.Fatal("no limit limited")
	}
}

func TestWindows(t *testing.T) {
	w := NewWindows(2, time.Minute, false)
	start := time.Unix(1000, 0)
	for i, want := range []int{1, 0} {
		ok, remaining, _ := w.Take(7, start.Add(time.Duration(i)*time.Second))
		if !ok || remaining != want {
			t.Fatalf("take %d: %v %d", i, ok, remaining)
		}
	}
	ok, remaining, retry := w.Take(7, start.Add(10*time.Second))
	if ok || remaining != 0 || retry != 50*time.Second {
		t.Fatalf("over: %v %d %v", ok, remaining, retry)
	}
	if ok, _, _ := w.Take(7, start.Add(time.Minute)); !ok {
		t.Fatal("window did not end")
	}
	// Aligned windows end with the clock's second, not a minute after the
	// first request.
	a := NewWindows(1, time.Second, true)
	if ok, _, _ := a.Take(1, time.Unix(5, 900e6)); !ok {
		t.Fatal("first")
	}
	if ok, _, _ := a.Take(1, time.Unix(5, 950e6)); ok {
		t.Fatal("second in the same second")
	}
	if ok, _, _ := a.Take(1, time.Unix(6, 0)); !ok {
		t.Fatal("next calendar second")
	}
	if NewWindows(0, time.Second, false) != nil {
		t.Fatal("zero limit made a limiter")
	}
}

func TestBoundedKeys(t *testing.T) {
	b := NewBuckets(1, 1)
	now := time.Unix(0, 0)
	for i := 0; i < maxKeys+10; i++ {
		b.Allow(string(rune(i%0x10000))+string(rune(i/0x10000)), now)
	}
	if n := len(b.keys.m); n > maxKeys {
		t.Fatalf("%d keys kept", n)
	}
}
