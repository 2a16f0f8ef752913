package sqlite

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

func seed(b testing.TB, db *DB, n int) []string {
	ids := make([]string, 0, n)
	for len(ids) < n {
		err := db.Write(context.Background(), store.Actor{Door: "bench"}, func(tx store.Tx) error {
			for i := 0; i < 1000 && len(ids) < n; i++ {
				name := fmt.Sprintf("bench-user-%08d", len(ids))
				u := &store.User{UserName: name, Active: true, Emails: []store.Value{{Value: name + "@x.example"}}}
				if err := tx.CreateUser(context.Background(), u); err != nil {
					return err
				}
				ids = append(ids, u.ID)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

func BenchmarkReads(b *testing.B) {
	db := openTemp(b)
	ids := seed(b, db, 20000)
	ctx := context.Background()
	b.Run("GetUser", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := db.GetUser(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A request's context can be cancelled: the lookup must not pay for
	// watching it (sqlite.go, lookup).
	b.Run("GetUserRequestContext", func(b *testing.B) {
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for i := 0; b.Loop(); i++ {
			if _, err := db.GetUser(rctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("getUserRowOnly", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			rows, done, err := db.query(ctx, `SELECT `+userColsWithGroups+userFrom+` WHERE u.id = ?`, store.DefaultDomain, ids[i%len(ids)])
			if err != nil {
				b.Fatal(err)
			}
			rows.Next()
			if _, err := scanUser(rows, true); err != nil {
				b.Fatal(err)
			}
			rows.Close()
			done()
		}
	})
	b.Run("ListUsers100", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ListUsers(ctx, store.Query{Limit: 100, Related: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCreateUser(b *testing.B) {
	db := openTemp(b)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := fmt.Sprintf("c-%d-%p", time.Now().UnixNano(), pb)
			err := db.Write(ctx, store.Actor{Door: "bench"}, func(tx store.Tx) error {
				return tx.CreateUser(ctx, &store.User{UserName: name, Active: true, Emails: []store.Value{{Value: name + "@x"}}})
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkFilterVsGet(b *testing.B) {
	db := openTemp(b)
	seed(b, db, 5000)
	ctx := context.Background()
	b.Run("GetUserByUserName", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := db.GetUserByUserName(ctx, fmt.Sprintf("bench-user-%08d", i%5000)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListUsersEq", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			p, err := db.ListUsers(ctx, store.Query{Limit: 100, Related: true, Filter: store.Compare{Attr: "userName", Op: store.OpEq, Value: fmt.Sprintf("bench-user-%08d", i%5000)}})
			if err != nil || len(p.Users) != 1 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSustainedCreates creates b.N users from many concurrent writers,
// as an identity provider's first provisioning push does, and reports the
// -wal file's peak size: under sustained writes it must stay bounded. Run it
// at scale with -benchtime=1000000x.
func BenchmarkSustainedCreates(b *testing.B) {
	db := openTemp(b)
	ctx := context.Background()
	var peak atomic.Int64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if fi, err := os.Stat(db.path + "-wal"); err == nil && fi.Size() > peak.Load() {
				peak.Store(fi.Size())
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := fmt.Sprintf("sustained-%09d@example.com", seq.Add(1))
			u := &store.User{UserName: name, Active: true, DisplayName: "User " + name,
				Name:       store.Name{GivenName: "Given", FamilyName: name},
				Emails:     []store.Value{{Value: name, Type: "work", Primary: true}},
				Enterprise: &store.Enterprise{Department: "Tours", EmployeeNumber: name}}
			if err := db.Write(ctx, store.Actor{Door: "bench"}, func(tx store.Tx) error {
				return tx.CreateUser(ctx, u)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	close(stop)
	<-sampled
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-wal-MiB")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkDeepPaging compares a page at a random startIndex over 100,000
// users with a cursor page (RFC 9865) and the first page: offset paging
// should cost about what a cursor page costs, wherever the offset is.
func BenchmarkDeepPaging(b *testing.B) {
	const n = 100000
	db := openTemp(b)
	seed(b, db, n)
	ctx := context.Background()
	b.Run("offset-random", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			p, err := db.ListUsers(ctx, store.Query{Limit: 100, Offset: (i * 7919) % (n - 100), Related: true})
			if err != nil || len(p.Users) != 100 {
				b.Fatal(err)
			}
		}
	})
	b.Run("offset-0", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ListUsers(ctx, store.Query{Limit: 100, Related: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	first, err := db.ListUsers(ctx, store.Query{Limit: 100, Related: true, UseCursor: true})
	if err != nil || first.NextCursor == "" {
		b.Fatal(err)
	}
	b.Run("cursor-next", func(b *testing.B) {
		for b.Loop() {
			p, err := db.ListUsers(ctx, store.Query{Limit: 100, Related: true, UseCursor: true, Cursor: first.NextCursor})
			if err != nil || len(p.Users) != 100 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUpdateUserActive is Okta's deactivation: an update that changes
// one column and leaves everything else (e-mail addresses included) as is.
func BenchmarkUpdateUserActive(b *testing.B) {
	db := openTemp(b)
	ids := seed(b, db, 10000)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		err := db.Write(ctx, store.Actor{Door: "bench"}, func(tx store.Tx) error {
			_, err := tx.UpdateUser(ctx, ids[(i*7919)%len(ids)], func(u *store.User) error {
				u.Active = !u.Active
				return nil
			})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
