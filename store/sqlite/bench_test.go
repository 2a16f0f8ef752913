package sqlite

import (
	"context"
	"fmt"
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
