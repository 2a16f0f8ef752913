package admin

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeSyncer is a syncer's status the test changes as runs finish.
type fakeSyncer struct {
	mu      sync.Mutex
	sources []SyncSource
	calls   int
}

func (f *fakeSyncer) status() []SyncSource {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return append([]SyncSource(nil), f.sources...)
}

func (f *fakeSyncer) finish(run SyncRun) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.sources {
		if f.sources[i].Name == run.Source {
			f.sources[i].LastRun = &run
		}
	}
}

func TestRunHistoryNotesEachRunOnce(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	f := &fakeSyncer{sources: []SyncSource{{Name: "a"}, {Name: "b"}}}
	var h runHistory
	h.note(f.status())
	f.finish(SyncRun{Source: "a", Started: t0})
	h.note(f.status())
	h.note(f.status())
	f.finish(SyncRun{Source: "b", Started: t0.Add(time.Minute)})
	f.finish(SyncRun{Source: "a", Started: t0.Add(2 * time.Minute), Error: "down"})
	h.note(f.status())
	runs := h.since(time.Time{})
	if len(runs) != 3 || runs[0].Source != "a" || runs[2].Error != "down" {
		t.Fatalf("runs %+v", runs)
	}
	if got := h.since(t0.Add(time.Minute)); len(got) != 2 {
		t.Errorf("since 10:01: %+v", got)
	}
	for i := range maxRuns + 10 {
		f.finish(SyncRun{Source: "a", Started: t0.Add(time.Duration(i+3) * time.Minute)})
		h.note(f.status())
	}
	if n := len(h.since(time.Time{})); n != maxRuns {
		t.Errorf("history holds %d runs, want at most %d", n, maxRuns)
	}
}

func TestWatchSyncNotesRunsWhileNobodyLooks(t *testing.T) {
	f := &fakeSyncer{sources: []SyncSource{{Name: "corp"}}}
	a := New(Options{SyncStatus: f.status})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		a.WatchSync(ctx, time.Millisecond)
		close(done)
	}()
	started := time.Now()
	for i := range 3 {
		f.finish(SyncRun{Source: "corp", Started: started.Add(time.Duration(i) * time.Second)})
		// Wait for the watcher to look at least twice, so that it saw the run.
		f.mu.Lock()
		seen := f.calls
		f.mu.Unlock()
		for {
			f.mu.Lock()
			n := f.calls
			f.mu.Unlock()
			if n >= seen+2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	<-done
	if n := len(a.runs.since(time.Time{})); n != 3 {
		t.Fatalf("the watcher noted %d runs, want 3", n)
	}
	// Without sources there is nothing to watch: it returns at once.
	New(Options{}).WatchSync(context.Background(), time.Hour)
}
