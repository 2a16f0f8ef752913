package main

import (
	"context"
	"fmt"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

func tokenCommand() *command {
	return &command{name: "token", summary: "SCIM bearer tokens and admin tokens", subs: []*command{
		{name: "create", summary: "create a token and print it once (only its hash is stored)",
			details: "A SCIM token is the bearer token an identity provider provisions with; --user binds one to a\n" +
				"user for /Me. An admin token (--admin) is for the operators' API under /admin.",
			define: func(fs *flagSet, c *cli) runFunc {
				name, m := fs.text("name", "NAME", "a name for the token: who uses it")
				m.required = true
				userName, _ := fs.text("user", "USERNAME", "bind the token to this user (for /Me)")
				admin := fs.boolean("admin", "an admin token (for /admin) instead of a SCIM token")
				expires, _ := fs.text("expires", "DURATION", "the token stops working after this long: 90d, 12h, 30m (default: never)")
				domain, _ := fs.text("domain", "NAME", "the SCIM token's provisioning domain (default: \"default\"): the externalIds its client sees")
				compat, _ := fs.text("compat", "MODE", "the SCIM token's compatibility mode: entra or strict (default: scim.compat)")
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) > 0 {
						return usagef("unexpected argument %q", args[0])
					}
					lifetime, err := parseLifetime(*expires)
					if err != nil {
						return err
					}
					if *admin && *userName != "" {
						return usagef("--user binds SCIM tokens, not admin tokens")
					}
					if *admin && (*domain != "" || *compat != "") {
						return usagef("--domain and --compat are for SCIM tokens, not admin tokens")
					}
					_, st, err := com.open(ctx, c)
					if err != nil {
						return err
					}
					defer st.Close()
					set := auth.SCIMTokenSettings{Domain: *domain, Compat: *compat}
					return createToken(ctx, c, st, *name, *userName, *admin, set, lifetime)
				}
			}},
		{name: "list", summary: "list the tokens: id, name, user, created, expiry, last use",
			define: func(fs *flagSet, c *cli) runFunc {
				admin := fs.boolean("admin", "list admin tokens instead of SCIM tokens")
				asJSON := fs.boolean("json", "print a JSON array instead of a table")
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) > 0 {
						return usagef("unexpected argument %q", args[0])
					}
					_, st, err := com.open(ctx, c)
					if err != nil {
						return err
					}
					defer st.Close()
					return listTokens(ctx, c, st, tokenKind(*admin), *asJSON)
				}
			}},
		{name: "revoke", summary: "revoke tokens by id; they stop working at once", args: "ID...",
			define: func(fs *flagSet, c *cli) runFunc {
				admin := fs.boolean("admin", "the ids are admin tokens")
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) == 0 {
						return usagef("give the id(s) to revoke")
					}
					_, st, err := com.open(ctx, c)
					if err != nil {
						return err
					}
					defer st.Close()
					return revoke(ctx, st, args, c.stdout, tokenKind(*admin))
				}
			}},
	}}
}

func tokenKind(admin bool) string {
	if admin {
		return auth.AdminTokenKind
	}
	return auth.SCIMTokenKind
}

func createToken(ctx context.Context, c *cli, st store.Store, name, userName string, admin bool, set auth.SCIMTokenSettings, lifetime time.Duration) error {
	var userKey int64
	if userName != "" {
		u, err := st.GetUserByUserName(ctx, userName)
		if err != nil {
			return fmt.Errorf("user %q: %w", userName, err)
		}
		userKey = u.Key
	}
	issue := func(ctx context.Context, st store.Store, actor store.Actor, name string, userKey int64) (string, *store.Credential, error) {
		set.UserKey = userKey
		return auth.IssueSCIMTokenWith(ctx, st, actor, name, set)
	}
	if admin {
		issue = auth.IssueAdminToken
	}
	token, cred, err := issue(ctx, withExpiry(st, lifetime), cliActor(), name, userKey)
	if err != nil {
		return err
	}
	kind := "token"
	if admin {
		kind = "admin token"
	}
	until := ""
	if !cred.Expires.IsZero() {
		until = ", valid until " + cred.Expires.Local().Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(c.stdout, "%s %d created%s; shown only this once:\n%s\n", kind, cred.ID, until, token)
	return nil
}

func listTokens(ctx context.Context, c *cli, st store.Store, kind string, asJSON bool) error {
	creds, err := st.ListCredentials(ctx, kind)
	if err != nil {
		return err
	}
	views, err := viewCredentials(ctx, st, creds)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(c.stdout, views)
	}
	now := time.Now()
	t := newColumns(c.stdout, "ID", "NAME", "USER", "TOKEN", "CREATED", "EXPIRES", "LAST USED")
	for _, v := range views {
		t.row(fmt.Sprint(v.ID), v.Name, v.User, v.Identifier+"…", when(&v.Created, ""), expiry(v.Expires, now), when(v.LastUsed, "never"))
	}
	return t.flush()
}
