package admin

import (
	"sort"
	"sync"
	"time"
)

// historyMinutes is how far back the console's chart looks.
const historyMinutes = 60

// traffic counts requests per minute, door and status class for the last
// historyMinutes minutes, in memory: the console's request-rate chart. It
// costs one short lock per request and a fixed amount of memory (doors are
// few).
type traffic struct {
	mu    sync.Mutex
	slots [historyMinutes]trafficSlot
}

type trafficSlot struct {
	minute int64 // Unix minute the slot holds; older content is stale
	doors  map[string]*StatusCounts
}

// StatusCounts are requests by status class.
type StatusCounts struct {
	OK           int // 1xx, 2xx, 3xx
	ClientErrors int // 4xx
	ServerErrors int // 5xx
}

// Total is every request counted.
func (c StatusCounts) Total() int { return c.OK + c.ClientErrors + c.ServerErrors }

func (c *StatusCounts) add(o StatusCounts) {
	c.OK += o.OK
	c.ClientErrors += o.ClientErrors
	c.ServerErrors += o.ServerErrors
}

func (t *traffic) observe(now time.Time, door string, status int) {
	m := now.Unix() / 60
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.slots[m%historyMinutes]
	if s.minute != m || s.doors == nil {
		s.minute, s.doors = m, map[string]*StatusCounts{}
	}
	c := s.doors[door]
	if c == nil {
		c = &StatusCounts{}
		s.doors[door] = c
	}
	switch {
	case status >= 500:
		c.ServerErrors++
	case status >= 400:
		c.ClientErrors++
	default:
		c.OK++
	}
}

// minuteCounts is one minute of traffic.
type minuteCounts struct {
	Start time.Time
	All   StatusCounts
}

// doorCounts is one door's traffic over the whole window.
type doorCounts struct {
	Door string
	StatusCounts
}

// snapshot returns the last historyMinutes minutes up to now, oldest
// first, and each door's totals over them, busiest first.
func (t *traffic) snapshot(now time.Time) ([]minuteCounts, []doorCounts) {
	last := now.Unix() / 60
	minutes := make([]minuteCounts, historyMinutes)
	byDoor := map[string]*StatusCounts{}
	t.mu.Lock()
	for i := range minutes {
		m := last - historyMinutes + 1 + int64(i)
		minutes[i].Start = time.Unix(m*60, 0).UTC()
		s := &t.slots[m%historyMinutes]
		if s.minute != m {
			continue
		}
		for door, c := range s.doors {
			minutes[i].All.add(*c)
			if byDoor[door] == nil {
				byDoor[door] = &StatusCounts{}
			}
			byDoor[door].add(*c)
		}
	}
	t.mu.Unlock()
	doors := make([]doorCounts, 0, len(byDoor))
	for d, c := range byDoor {
		doors = append(doors, doorCounts{Door: d, StatusCounts: *c})
	}
	sort.Slice(doors, func(i, j int) bool {
		if doors[i].Total() != doors[j].Total() {
			return doors[i].Total() > doors[j].Total()
		}
		return doors[i].Door < doors[j].Door
	})
	return minutes, doors
}

// Observe counts one finished request for the console's chart; the
// composition root calls it from its request log with the door's name
// and the answer's status.
func (a *API) Observe(door string, status int) { a.traffic.observe(a.now(), door, status) }
