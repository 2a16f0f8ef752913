package auth

import (
	"context"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Lockout is the defence against password guessing, for logins and for
// every check of a current password. Its state is the activity log
// (login.failure entries with the client's address, user.login and
// password.change), so that it holds across several nodes on one
// database. Anyone can slow an account down, but not lock its owner out:
//   - more than MaxFailures failures for one account from one address
//     within Window lock that address out of that account (ErrLocked)
//     until the failures leave the window, a login from that address
//     succeeds or the password changes;
//   - more than MaxFailures failures for one account from all addresses
//     together, or more than AddressFailures from one address over all
//     accounts (unknown names included), make each further check wait:
//     Delay after the latest such failure, doubled by each further one, up
//     to MaxDelay. The owner logging in from elsewhere waits at most
//     MaxDelay, and not at all once an attack has paused that long.
//
// An unknown user name is counted like an account (by the name), so that
// neither the time taken nor "account is locked" tells a guesser whether
// the account exists.
type Lockout struct {
	// MaxFailures is how many failures within Window one address may make
	// for one account before it is locked out of it; 0 disables the
	// lockout and the delays.
	MaxFailures int
	Window      time.Duration
	// AddressFailures is how many failures one address may make over all
	// accounts within Window before its checks are slowed; 0 means
	// 4 × MaxFailures.
	AddressFailures int
	// Delay is the first delay, MaxDelay the longest; 0 means 1s and 15s.
	Delay, MaxDelay time.Duration
	// Wait waits for d or until ctx ends; nil waits on a timer. Tests
	// replace it to see the delays without waiting for them.
	Wait func(ctx context.Context, d time.Duration) error
}

// DefaultLockoutDelay and DefaultLockoutMaxDelay are the progressive
// delay's bounds when none are configured.
const (
	DefaultLockoutDelay    = time.Second
	DefaultLockoutMaxDelay = 15 * time.Second
)

// attempt is one password check as the lockout sees it.
type attempt struct {
	user    *store.User // nil: an unknown name
	subject string      // the ResourceID failures are recorded under
	address string
}

func newAttempt(u *store.User, userName, address string) attempt {
	if u != nil {
		return attempt{user: u, subject: u.ID, address: address}
	}
	// An unknown name is counted by a reference to the name the store would
	// find it under; the name itself (perhaps a mistyped password) is not kept.
	return attempt{subject: "unknown:" + HashToken(store.UserNameKey(userName))[:16], address: address}
}

// failure is the activity entry a failed check records.
func (a attempt) failure(door string) store.Activity {
	// An unknown name's entry names no resource type: it is no user (and
	// the console links it to none).
	act := store.Activity{Action: ActionLoginFailure, ResourceID: a.subject, Detail: door}
	if a.user != nil {
		act.ResourceType, act.ResourceKey, act.UserKey = "User", a.user.Key, a.user.Key
	}
	return act
}

// verdict is what the lockout says about an attempt.
type verdict struct {
	locked bool
	// wait is how long the attempt waits before the password is checked.
	wait time.Duration
}

func (l *Lockout) on() bool { return l != nil && l.MaxFailures > 0 && l.Window > 0 }

// judge reads the attempt's failures from the store.
func (l *Lockout) judge(ctx context.Context, st store.Reader, a attempt, now time.Time) (verdict, error) {
	if !l.on() {
		return verdict{}, nil
	}
	window := now.Add(-l.Window)
	// The account's count starts after its last login or password change,
	// the address's count for it after its last login from there.
	accountSince, pairSince := window, window
	if a.user != nil {
		for _, r := range []struct {
			q             store.ActivityQuery
			account, pair bool
		}{
			{store.ActivityQuery{UserID: a.user.ID, Action: ActionPasswordChange}, true, true},
			{store.ActivityQuery{UserID: a.user.ID, Action: ActionLogin}, true, false},
			{store.ActivityQuery{UserID: a.user.ID, Action: ActionLogin, Address: a.address}, false, true},
		} {
			r.q.Since, r.q.Limit = window, 1
			last, _, err := st.ListActivity(ctx, r.q)
			if err != nil {
				return verdict{}, err
			}
			if len(last) == 0 {
				continue
			}
			// The store keeps microseconds: count from just after the reset.
			at := last[0].At.Add(time.Microsecond)
			if r.account {
				accountSince = later(accountSince, at)
			}
			if r.pair {
				pairSince = later(pairSince, at)
			}
		}
	}
	pairQ := store.ActivityQuery{Action: ActionLoginFailure, Address: a.address, Since: pairSince, Limit: 1}
	if a.user != nil {
		pairQ.UserID = a.user.ID
	} else {
		pairQ.ResourceID = a.subject
	}
	_, pair, err := st.ListActivity(ctx, pairQ)
	if err != nil {
		return verdict{}, err
	}
	if pair > l.MaxFailures {
		return verdict{locked: true}, nil
	}
	var v verdict
	slow := func(q store.ActivityQuery, allowed int) error {
		last, n, err := st.ListActivity(ctx, q)
		if err != nil || n <= allowed || len(last) == 0 {
			return err
		}
		if wait := last[0].At.Add(l.delay(n - allowed)).Sub(now); wait > v.wait {
			v.wait = wait
		}
		return nil
	}
	if a.user != nil {
		err = slow(store.ActivityQuery{UserID: a.user.ID, Action: ActionLoginFailure, Since: accountSince, Limit: 1}, l.MaxFailures)
	} else {
		err = slow(store.ActivityQuery{ResourceID: a.subject, Action: ActionLoginFailure, Since: window, Limit: 1}, l.MaxFailures)
	}
	if err != nil {
		return verdict{}, err
	}
	if a.address != "" {
		if err := slow(store.ActivityQuery{Action: ActionLoginFailure, Address: a.address, Since: window, Limit: 1}, l.addressFailures()); err != nil {
			return verdict{}, err
		}
	}
	return v, nil
}

func (l *Lockout) addressFailures() int {
	if l.AddressFailures > 0 {
		return l.AddressFailures
	}
	return 4 * l.MaxFailures
}

// delay is the wait after the excess-th failure over the allowance.
func (l *Lockout) delay(excess int) time.Duration {
	d, most := l.Delay, l.MaxDelay
	if d <= 0 {
		d = DefaultLockoutDelay
	}
	if most <= 0 {
		most = DefaultLockoutMaxDelay
	}
	for i := 1; i < excess && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}

// wait waits the verdict's delay.
func (l *Lockout) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if l.Wait != nil {
		return l.Wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
