package ldapsync

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// changeFilter narrows a search to entries changed since the watermark.
func changeFilter(cfg SourceConfig, filter, watermark string) string {
	if watermark == "" {
		return filter
	}
	switch cfg.ChangeDetection {
	case DetectEntryCSN:
		// >= re-reads the entry holding the watermark; re-applying an
		// unchanged entry writes nothing, and no change can slip between.
		return andFilter(filter, "entryCSN", ">=", watermark)
	case DetectModifyTimestamp:
		// >= re-reads the watermark's own second: timestamps have one-second
		// resolution, so a later change in that second must not be missed.
		return andFilter(filter, "modifyTimestamp", ">=", watermark)
	case DetectUSNChanged:
		n, err := strconv.ParseInt(watermark, 10, 64)
		if err != nil {
			return filter
		}
		return andFilter(filter, "uSNChanged", ">=", strconv.FormatInt(n+1, 10))
	}
	return filter
}

// orExpired widens an incremental user search by the accounts that expired
// since the last run began (AD's accountExpires, which moves no change
// marker): they become inactive although their entries did not change.
func (r *directoryRead) orExpired(changed string) string {
	if !r.m.readsExpiry() || r.from.LastRun == nil || r.from.LastRun.Started.IsZero() {
		return changed
	}
	from, to := toFileTime(r.from.LastRun.Started), toFileTime(r.rep.Started)
	return "(|" + changed + "(&" + r.cfg.Users.Filter +
		"(" + accountExpires + ">=" + strconv.FormatInt(from, 10) + ")" +
		"(" + accountExpires + "<=" + strconv.FormatInt(to, 10) + ")))"
}

// advance moves the watermark past r's change marker. With a root DSE
// highestCommittedUSN (taken before reading) the USN watermark is already
// right and stays.
func advance(cfg SourceConfig, watermark string, r *record, fromDSE bool) string {
	switch cfg.ChangeDetection {
	case DetectEntryCSN:
		// CSNs ("20261122120000.123456Z#000001#000#000000") sort as text.
		if v := r.first("entryCSN"); v > watermark {
			return v
		}
	case DetectModifyTimestamp:
		t, err := parseGeneralizedTime(r.first("modifyTimestamp"))
		if err != nil {
			return watermark
		}
		cur, err := parseGeneralizedTime(watermark)
		if err != nil || t.After(cur) {
			return t.UTC().Format(generalizedTime)
		}
	case DetectUSNChanged:
		if fromDSE {
			return watermark
		}
		if v := r.first("uSNChanged"); v != "" && usnLess(watermark, v) {
			return v
		}
	}
	return watermark
}

// generalizedTime is the exact form directories compare modifyTimestamp in.
const generalizedTime = "20060102150405Z"

// parseGeneralizedTime reads LDAP generalized time ("20261122120000Z",
// "20261122120000.0Z", "20261122120000+0100").
func parseGeneralizedTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	if i := strings.IndexAny(v, ".,"); i >= 0 {
		j := i + 1
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		v = v[:i] + v[j:]
	}
	for _, layout := range []string{"20060102150405Z0700", "20060102150405Z"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad generalized time %q", v)
}

// usnLess compares USNs numerically; an empty a is less than anything.
func usnLess(a, b string) bool {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errB != nil {
		return false
	}
	return errA != nil || x < y
}
