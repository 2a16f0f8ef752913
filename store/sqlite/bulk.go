package sqlite

import (
	"context"
	"errors"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// CreateUsers creates many users as CreateUser creates each, with fewer
// statements: the users rows, their e-mail rows and their activity entries
// each go in statements of up to bulkRows rows (prepared once per size),
// and the e-mail uniqueness of the whole batch is one query. A directory
// import writes its users this way. Whatever the fast path cannot vouch
// for (a user the rules refuse, an e-mail address already held, a
// constraint the insert runs into) sends the batch, rolled back, through
// CreateUser one by one, which names the first user refused with the
// error CreateUser gives: one behaviour, whichever way the batch goes.
// The outbox triggers fire per row, as for CreateUser.
func (t *txn) CreateUsers(ctx context.Context, users []*store.User) error {
	if len(users) == 0 {
		return nil
	}
	if _, err := t.exec(ctx, `SAVEPOINT create_users`); err != nil {
		return err
	}
	err := t.createUsersFast(ctx, users)
	if err != nil {
		if _, rerr := t.exec(ctx, `ROLLBACK TO create_users`); rerr != nil {
			// SQLite rolled the whole transaction back (it may on a full
			// disk or an I/O error): the statement's error says why.
			if !errors.Is(err, errSlowPath) {
				return mapErr(err)
			}
			return rerr
		}
		err = t.createUsersOneByOne(ctx, users)
	}
	if err != nil {
		if _, rerr := t.exec(ctx, `ROLLBACK TO create_users`); rerr != nil {
			return rerr
		}
	}
	if _, rerr := t.exec(ctx, `RELEASE create_users`); rerr != nil && err == nil {
		return rerr
	}
	return err
}

func (t *txn) createUsersOneByOne(ctx context.Context, users []*store.User) error {
	for i, u := range users {
		if err := t.CreateUser(ctx, u); err != nil {
			return &store.ItemError{Index: i, Err: err}
		}
	}
	return nil
}

// errSlowPath sends a batch through CreateUser one by one.
var errSlowPath = errors.New("sqlite: batch needs the one-by-one path")

// bulkRows is the most rows one bulk statement writes; smaller remainders
// go in statements of the powers of two below it, so that a few statement
// texts serve every batch size.
const bulkRows = 64

// chunks calls fn with consecutive [start, end) ranges of n items:
// bulkRows at a time, then powers of two.
func chunks(n int, fn func(start, end int) error) error {
	for start := 0; start < n; {
		size := bulkRows
		for size > n-start {
			size /= 2
		}
		if err := fn(start, start+size); err != nil {
			return err
		}
		start += size
	}
	return nil
}

// rowsOf repeats a row's placeholders n times.
func rowsOf(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

func (t *txn) createUsersFast(ctx context.Context, users []*store.User) error {
	docs := make([][]byte, len(users))
	for i, u := range users {
		doc, err := t.newUser(u)
		if err != nil {
			return errSlowPath
		}
		docs[i] = doc
	}
	taken, err := t.emailsTaken(ctx, users)
	if err != nil {
		return err
	}
	if taken {
		return errSlowPath
	}
	byID := make(map[string]*store.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	err = chunks(len(users), func(start, end int) error {
		args := make([]any, 0, 12*(end-start))
		for i := start; i < end; i++ {
			args = t.userInsertArgs(args, users[i], docs[i])
		}
		rs, done, err := t.query(ctx, `INSERT INTO users (`+userInsertCols+`) VALUES `+rowsOf(userInsertRow, end-start)+` RETURNING key, id`, args...)
		if err != nil {
			return err
		}
		defer done()
		defer rs.Close()
		n := 0
		for rs.Next() {
			var key int64
			var id string
			if err := rs.Scan(&key, &id); err != nil {
				return err
			}
			if u := byID[id]; u != nil {
				u.Key = key
				n++
			}
		}
		if err := rs.Err(); err != nil {
			return err
		}
		if n != end-start {
			return errSlowPath // two users with one id
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := t.addExternalID(ctx, externalUser, u.Key, u.ExternalID); err != nil {
			return err
		}
	}
	if err := t.insertEmailRows(ctx, users); err != nil {
		return err
	}
	return chunks(len(users), func(start, end int) error {
		args := make([]any, 0, 11*(end-start))
		for _, u := range users[start:end] {
			args = append(args, micros(t.now), t.actor.Door, t.actor.Principal, t.actor.Address, "user.create", "User", u.ID,
				u.Key, u.Key, u.ID, "userName="+u.UserName)
		}
		_, err := t.exec(ctx, `INSERT INTO activity (`+activityInsertCols+`) VALUES `+rowsOf(activityInsertRow, end-start), args...)
		return err
	})
}

// emailsTaken says whether an address that CreateUser would check for one
// of users is held: by a user in the store, or by another user of the
// batch (CreateUser, one by one, would find it held by the earlier one).
func (t *txn) emailsTaken(ctx context.Context, users []*store.User) (bool, error) {
	// Addresses compare as the store compares them (EmailKey, the column's
	// NOCASE).
	owner := map[string]int{}   // an address → the first user holding it
	shared := map[string]bool{} // addresses two users of the batch hold
	for i, u := range users {
		for _, e := range u.Emails {
			if e.Value == "" {
				continue
			}
			k := store.EmailKey(e.Value)
			if o, ok := owner[k]; !ok {
				owner[k] = i
			} else if o != i {
				shared[k] = true
			}
		}
	}
	var check []string
	for i, u := range users {
		for _, e := range t.policy.EmailsToCheck(nil, u) {
			k := store.EmailKey(e)
			if o, ok := owner[k]; shared[k] || ok && o != i {
				return true, nil
			}
			check = append(check, e)
		}
	}
	taken := false
	err := chunks(len(check), func(start, end int) error {
		if taken {
			return nil
		}
		args := make([]any, 0, end-start)
		for _, e := range check[start:end] {
			args = append(args, e)
		}
		return t.queryRow(ctx, []any{&taken}, `SELECT EXISTS (SELECT 1 FROM user_emails WHERE value IN (`+rowsOf("?", end-start)+`))`, args...)
	})
	return taken, err
}

// insertEmailRows writes the user_emails rows of new users, as writeEmails
// does for each.
func (t *txn) insertEmailRows(ctx context.Context, users []*store.User) error {
	var args []any
	for _, u := range users {
		for i, e := range u.Emails {
			if e.Value != "" {
				args = append(args, u.Key, i, e.Value, nullStr(e.Type), e.Primary)
			}
		}
	}
	return chunks(len(args)/5, func(start, end int) error {
		_, err := t.exec(ctx, `INSERT INTO user_emails (user_key, pos, value, type, is_primary) VALUES `+rowsOf(`(?, ?, ?, ?, ?)`, end-start),
			args[5*start:5*end]...)
		return err
	})
}
