package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app"
	"github.com/scimbridge/scimbridge/legacyapi/pterodactyl"
	"github.com/scimbridge/scimbridge/store"
)

func apikeyCommand() *command {
	return &command{name: "apikey", summary: "API keys of the legacy dialects, in each vendor's key format", subs: []*command{
		{name: "create", summary: "create an API key for a user and print it once (only its hash is stored)",
			details: "The key acts as the user, with the user's rights: Pterodactyl's application API, for one,\n" +
				"answers 403 to a key whose user is not an admin (scimbridge user set-role USERNAME admin).",
			define: func(fs *flagSet, c *cli) runFunc {
				api, m := fs.text("api", "DIALECT", "the dialect: "+strings.Join(dialects(), ", "))
				m.required, m.values = true, dialects()
				userName, m := fs.text("user", "USERNAME", "the user the key acts as")
				m.required = true
				name, _ := fs.text("name", "NAME", "a name for the key (default: \"DIALECT key for USERNAME\")")
				readOnly := fs.boolean("read-only", "the key may only read")
				expires, _ := fs.text("expires", "DURATION", "the key stops working after this long: 90d, 12h, 30m (default: never)")
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) > 0 {
						return usagef("unexpected argument %q", args[0])
					}
					if err := knownDialect(*api); err != nil {
						return err
					}
					lifetime, err := parseLifetime(*expires)
					if err != nil {
						return err
					}
					_, st, err := com.open(ctx, c)
					if err != nil {
						return err
					}
					defer st.Close()
					return createKey(ctx, c, st, *api, *userName, *name, *readOnly, lifetime)
				}
			}},
		{name: "list", summary: "list the API keys: id, dialect, name, user, scopes, created, expiry, last use",
			define: func(fs *flagSet, c *cli) runFunc {
				api, m := fs.text("api", "DIALECT", "only this dialect's keys")
				m.values = dialects()
				asJSON := fs.boolean("json", "print a JSON array instead of a table")
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) > 0 {
						return usagef("unexpected argument %q", args[0])
					}
					apis := dialects()
					if *api != "" {
						if err := knownDialect(*api); err != nil {
							return err
						}
						apis = []string{*api}
					}
					_, st, err := com.open(ctx, c)
					if err != nil {
						return err
					}
					defer st.Close()
					return listKeys(ctx, c, st, apis, *asJSON)
				}
			}},
		{name: "revoke", summary: "revoke API keys by id; they stop working at once", args: "ID...",
			define: func(fs *flagSet, c *cli) runFunc {
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
					var kinds []string
					for _, d := range dialects() {
						kinds = append(kinds, auth.KeyKind(d))
					}
					return revoke(ctx, st, args, c.stdout, kinds...)
				}
			}},
	}}
}

func dialects() []string {
	var out []string
	for d := range app.KeyFormats {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func knownDialect(api string) error {
	if _, ok := app.KeyFormats[api]; !ok {
		return usagef("unknown --api %q (want one of %s)", api, strings.Join(dialects(), ", "))
	}
	return nil
}

func createKey(ctx context.Context, c *cli, st store.Store, api, userName, name string, readOnly bool, lifetime time.Duration) error {
	u, err := st.GetUserByUserName(ctx, userName)
	if err != nil {
		return fmt.Errorf("user %q: %w", userName, err)
	}
	scopes := []string{"read", "write"}
	if readOnly {
		scopes = []string{"read"}
	}
	token, idLen := app.KeyFormats[api]()
	if name == "" {
		name = api + " key for " + u.UserName
	}
	cred, err := auth.IssueKey(ctx, withExpiry(st, lifetime), cliActor(), api, token, idLen, u.Key, name, scopes)
	if err != nil {
		return err
	}
	until := ""
	if !cred.Expires.IsZero() {
		until = ", valid until " + cred.Expires.Local().Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(c.stdout, "%s key %d created for %s (%s%s); shown only this once:\n%s\n",
		api, cred.ID, u.UserName, strings.Join(scopes, "+"), until, token)
	if api == pterodactyl.Dialect && !store.IsAdmin(u) {
		fmt.Fprintf(c.stderr, "warning: %s is not an admin, and Pterodactyl's application API answers 403 to its keys;\n"+
			"give the role with: scimbridge user set-role %s admin\n", u.UserName, u.UserName)
	}
	return nil
}

func listKeys(ctx context.Context, c *cli, st store.Store, apis []string, asJSON bool) error {
	var creds []store.Credential
	for _, d := range apis {
		cs, err := st.ListCredentials(ctx, auth.KeyKind(d))
		if err != nil {
			return err
		}
		creds = append(creds, cs...)
	}
	sort.Slice(creds, func(i, j int) bool { return creds[i].ID < creds[j].ID })
	views, err := viewCredentials(ctx, st, creds)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(c.stdout, views)
	}
	now := time.Now()
	t := newColumns(c.stdout, "ID", "API", "NAME", "USER", "KEY", "SCOPES", "CREATED", "EXPIRES", "LAST USED")
	for _, v := range views {
		key := ""
		if v.Identifier != "" {
			key = v.Identifier + "…"
		}
		t.row(fmt.Sprint(v.ID), v.API, v.Name, v.User, key, strings.Join(v.Scopes, ","), when(&v.Created, ""),
			expiry(v.Expires, now), when(v.LastUsed, "never"))
	}
	return t.flush()
}
