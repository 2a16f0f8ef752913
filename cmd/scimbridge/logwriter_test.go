package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogWriterFlushesOnTimeAndClose(t *testing.T) {
	var out lockedBuffer
	lw := newLogWriter(&out)
	lw.Write([]byte("first line\n"))
	if out.String() != "" {
		t.Fatal("written before a flush")
	}
	deadline := time.Now().Add(2 * time.Second)
	for out.String() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if out.String() != "first line\n" {
		t.Fatalf("not flushed in time: %q", out.String())
	}
	lw.Write([]byte("last line\n"))
	lw.Close()
	if !strings.HasSuffix(out.String(), "last line\n") {
		t.Fatalf("close lost a line: %q", out.String())
	}
}
