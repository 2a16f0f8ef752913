package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// roles are the privileges set-role gives, lowest first (README, the
// privilege table): stored as the typed role {"type":"scimbridge"} every
// door reads. "user" takes every privilege away.
var roles = []string{store.PrivilegeUser.String(), store.PrivilegeModerator.String(),
	store.PrivilegeAdmin.String(), store.PrivilegeOwner.String()}

func userCommand() *command {
	return &command{name: "user", summary: "users: create, list, give a role, set a password, log out, deactivate", subs: []*command{
		{name: "create", summary: "create a user (active, with a password from stdin if asked)", args: "USERNAME",
			define: func(fs *flagSet, c *cli) runFunc {
				email, _ := fs.text("email", "ADDRESS", "the user's primary (work) e-mail address")
				given, _ := fs.text("given-name", "NAME", "given name")
				family, _ := fs.text("family-name", "NAME", "family name")
				display, _ := fs.text("display-name", "NAME", "display name")
				role, m := fs.text("role", "ROLE", "a privilege: "+strings.Join(roles, ", ")+" (default user)")
				m.values = roles
				passwordStdin := fs.boolean("password-stdin", "read the user's password from the first line of stdin")
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) != 1 {
						return usagef("give one USERNAME")
					}
					if *role != "" && !validRole(*role) {
						return usagef("unknown role %q (want one of %s)", *role, strings.Join(roles, ", "))
					}
					u := &store.User{UserName: args[0], Active: true, DisplayName: *display,
						Name: store.Name{GivenName: *given, FamilyName: *family}}
					if *email != "" {
						legacyapi.SetPrimaryEmail(u, *email)
					}
					setRole(u, *role)
					if *passwordStdin {
						pw, hash, err := passwordFrom(c.stdin)
						if err != nil {
							return err
						}
						u.PasswordHash, u.NewPassword = hash, pw
					}
					cfg, st, err := com.open(ctx, c)
					if err != nil {
						return err
					}
					defer st.Close()
					door, err := doorStore(cfg, st)
					if err != nil {
						return err
					}
					if err := door.Write(ctx, cliActor(), func(tx store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
						return fmt.Errorf("user %q: %w", args[0], err)
					}
					fmt.Fprintf(c.stdout, "user %s created (id %s, role %s)\n", u.UserName, u.ID, privilege(u))
					return nil
				}
			}},
		{name: "list", summary: "list the users: name, e-mail, role, active, source",
			define: func(fs *flagSet, c *cli) runFunc {
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
					return listUsers(ctx, c, st, *asJSON)
				}
			}},
		{name: "set-role", summary: "give a user a privilege: " + strings.Join(roles, ", "), args: "USERNAME ROLE",
			define: func(fs *flagSet, c *cli) runFunc {
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) != 2 {
						return usagef("give USERNAME and ROLE")
					}
					if !validRole(args[1]) {
						return usagef("unknown role %q (want one of %s)", args[1], strings.Join(roles, ", "))
					}
					return c.updateUsers(ctx, com, args[:1], func(u *store.User) string {
						setRole(u, args[1])
						return "role " + privilege(u)
					})
				}
			}},
		{name: "deactivate", summary: "deactivate users: their logins and keys are refused", args: "USERNAME...",
			define: func(fs *flagSet, c *cli) runFunc {
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) == 0 {
						return usagef("give the USERNAME(s) to deactivate")
					}
					return c.updateUsers(ctx, com, args, func(u *store.User) string { u.Active = false; return "deactivated" })
				}
			}},
		{name: "activate", summary: "activate users again", args: "USERNAME...",
			define: func(fs *flagSet, c *cli) runFunc {
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) == 0 {
						return usagef("give the USERNAME(s) to activate")
					}
					return c.updateUsers(ctx, com, args, func(u *store.User) string { u.Active = true; return "activated" })
				}
			}},
		{name: "set-password", summary: "set a user's password from stdin; it ends the user's sessions in every door", args: "USERNAME",
			define: func(fs *flagSet, c *cli) runFunc {
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) != 1 {
						return usagef("give one USERNAME")
					}
					pw, hash, err := passwordFrom(c.stdin)
					if err != nil {
						return err
					}
					// The store ends the user's sessions and refresh tokens in
					// the transaction that changes the hash, whatever the door.
					return c.updateUsers(ctx, com, args, func(u *store.User) string {
						u.PasswordHash, u.NewPassword = hash, pw
						return "password set; every session and refresh token ended"
					})
				}
			}},
		{name: "logout", summary: "log users out everywhere: end their sessions and refresh tokens in every door", args: "USERNAME...",
			define: func(fs *flagSet, c *cli) runFunc {
				com := fs.common(false)
				return func(ctx context.Context, args []string) error {
					if len(args) == 0 {
						return usagef("give the USERNAME(s) to log out")
					}
					return c.logoutUsers(ctx, com, args)
				}
			}},
	}}
}

// logoutUsers ends every session and refresh token of each named user in
// every door, as POST /admin/users/{user}/logout does, in one transaction:
// all of them or, if one is unknown, none. API keys and SCIM tokens stay
// (they are revoked by name: apikey revoke, token revoke).
func (c *cli) logoutUsers(ctx context.Context, com *common, names []string) error {
	_, st, err := com.open(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	ended := make([]int, len(names))
	err = st.Write(ctx, cliActor(), func(tx store.Tx) error {
		for i, name := range names {
			u, err := tx.GetUserByUserName(ctx, name)
			if err != nil {
				return fmt.Errorf("user %q: %w", name, err)
			}
			if ended[i], err = auth.EndEverywhere(ctx, tx, u.Key, nil); err != nil {
				return fmt.Errorf("user %q: %w", name, err)
			}
			if err := tx.Record(ctx, store.Activity{Action: auth.ActionLogoutEverywhere, ResourceType: "User", ResourceID: u.ID,
				ResourceKey: u.Key, UserKey: u.Key, Detail: fmt.Sprintf("every session and refresh token ended (%d)", ended[i])}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, name := range names {
		fmt.Fprintf(c.stdout, "user %s: logged out everywhere (%d sessions and refresh tokens ended)\n", name, ended[i])
	}
	return nil
}

func validRole(r string) bool {
	_, ok := store.ParsePrivilege(r)
	return ok
}

// setRole gives u the privilege role names; "" changes nothing.
func setRole(u *store.User, role string) {
	if p, ok := store.ParsePrivilege(role); ok && role != "" {
		store.SetPrivilege(u, p)
	}
}

// privilege names the privilege u holds.
func privilege(u *store.User) string { return store.PrivilegeOf(u).String() }

// updateUsers changes each named user in one transaction: all of them or,
// if one is unknown or refused, none.
func (c *cli) updateUsers(ctx context.Context, com *common, names []string, change func(u *store.User) string) error {
	cfg, st, err := com.open(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	door, err := doorStore(cfg, st)
	if err != nil {
		return err
	}
	done := make([]string, len(names))
	err = door.Write(ctx, cliActor(), func(tx store.Tx) error {
		for i, name := range names {
			u, err := tx.GetUserByUserName(ctx, name)
			if err != nil {
				return fmt.Errorf("user %q: %w", name, err)
			}
			if _, err := tx.UpdateUser(ctx, u.ID, func(u *store.User) error { done[i] = change(u); return nil }); err != nil {
				return fmt.Errorf("user %q: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, name := range names {
		fmt.Fprintf(c.stdout, "user %s: %s\n", name, done[i])
	}
	return nil
}

// doorStore is st as the server's doors write to it: a password set here
// is handed, sealed, to the directories that write back (ldapsync's
// DoorStore), which the server's delivery (or sync --write-back) sends.
func doorStore(cfg *config.Config, st store.Store) (store.Store, error) {
	syncer, err := ldapsync.New(cfg.LDAP, st, nil)
	if err != nil {
		return nil, err
	}
	return syncer.DoorStore(st), nil
}

// passwordFrom reads a password from the first line of r and hashes it.
func passwordFrom(r io.Reader) (store.Secret, string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", "", fmt.Errorf("read the password from stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", "", errors.New("--password-stdin: stdin held no password")
	}
	hash, err := auth.HashPassword(password)
	return store.Secret(password), hash, err
}

// userView is a listed user: what --json prints.
type userView struct {
	ID          string   `json:"id"`
	Key         int64    `json:"key"`
	UserName    string   `json:"userName"`
	DisplayName string   `json:"displayName,omitempty"`
	Email       string   `json:"email,omitempty"`
	Role        string   `json:"role"`
	Roles       []string `json:"roles"`
	Active      bool     `json:"active"`
	// Source names the directory the user is synced from.
	Source       string    `json:"source,omitempty"`
	Created      time.Time `json:"created"`
	LastModified time.Time `json:"lastModified"`
}

func listUsers(ctx context.Context, c *cli, st store.Store, asJSON bool) error {
	views := []userView{}
	q := store.Query{UseCursor: true, Limit: 1000}
	for {
		page, err := st.ListUsers(ctx, q)
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			v := userView{ID: u.ID, Key: u.Key, UserName: u.UserName, DisplayName: u.DisplayName, Email: u.PrimaryEmail(),
				Role: privilege(u), Roles: []string{}, Active: u.Active, Source: u.Source.Name,
				Created: u.Meta.Created.UTC(), LastModified: u.Meta.LastModified.UTC()}
			if v.DisplayName == "" {
				v.DisplayName = strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
			}
			for _, r := range u.Roles {
				v.Roles = append(v.Roles, r.Value)
			}
			views = append(views, v)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	if asJSON {
		return printJSON(c.stdout, views)
	}
	t := newColumns(c.stdout, "USERNAME", "NAME", "EMAIL", "ROLE", "ACTIVE", "SOURCE", "CREATED", "ID")
	for _, v := range views {
		active := "yes"
		if !v.Active {
			active = "no"
		}
		t.row(v.UserName, v.DisplayName, v.Email, v.Role, active, v.Source, when(&v.Created, ""), v.ID)
	}
	return t.flush()
}
