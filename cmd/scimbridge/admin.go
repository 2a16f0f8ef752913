package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/store"
)

var cliActor = store.Actor{Door: "cli", Principal: os.Getenv("USER")}

func syncCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// The sync flags belong to ldapsync; only --config and --db are ours.
	var c common
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "config" || name == "db") {
			if !hasVal && i+1 < len(args) {
				i++
				val = args[i]
			}
			if name == "config" {
				c.configPath = val
			} else {
				c.db = val
			}
			continue
		}
		rest = append(rest, a)
	}
	cfg, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return ldapsync.RunCLI(ctx, rest, cfg.LDAP, st, newLogger(cfg, stderr), stdout)
}

func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("token: want create, list or revoke")
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, false)
	name := fs.String("name", "", "a name for the token (who uses it)")
	userName := fs.String("user", "", "bind the token to this user (for /Me)")
	admin := fs.Bool("admin", false, "an admin token (for /admin) instead of a SCIM token")
	domain := fs.String("domain", "", "the SCIM token's provisioning domain (default: \"default\"): the externalIds its client sees")
	compat := fs.String("compat", "", "the SCIM token's compatibility mode: entra or strict (default: scim.compat)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	_, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	kind := auth.SCIMTokenKind
	if *admin {
		kind = auth.AdminTokenKind
	}
	switch args[0] {
	case "create":
		if *name == "" {
			return errors.New("token create: --name is required")
		}
		var userKey int64
		if *userName != "" {
			u, err := st.GetUserByUserName(ctx, *userName)
			if err != nil {
				return fmt.Errorf("token create: user %q: %w", *userName, err)
			}
			userKey = u.Key
		}
		if *admin && (*domain != "" || *compat != "") {
			return errors.New("token create: --domain and --compat are for SCIM tokens, not --admin")
		}
		issue := func(ctx context.Context, st store.Store, actor store.Actor, name string, userKey int64) (string, *store.Credential, error) {
			return auth.IssueSCIMTokenWith(ctx, st, actor, name, auth.SCIMTokenSettings{UserKey: userKey, Domain: *domain, Compat: *compat})
		}
		if *admin {
			issue = auth.IssueAdminToken
		}
		token, cred, err := issue(ctx, st, cliActor, *name, userKey)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %d created; shown only this once:\n%s\n", cred.ID, token)
		return nil
	case "list":
		return listCredentials(ctx, st, stdout, kind)
	case "revoke":
		return revoke(ctx, st, fs.Args(), kind, stdout)
	}
	return fmt.Errorf("token: unknown action %q", args[0])
}

func apikeyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("apikey: want create, list or revoke")
	}
	fs := flag.NewFlagSet("apikey "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, false)
	api := fs.String("api", "", "dialect: "+strings.Join(dialects(), ", "))
	userName := fs.String("user", "", "the user the key acts as")
	readOnly := fs.Bool("read-only", false, "the key may only read")
	name := fs.String("name", "", "a name for the key")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	newKey, known := app.KeyFormats[*api]
	if *api != "" && !known {
		return fmt.Errorf("apikey: unknown --api %q (want one of %s)", *api, strings.Join(dialects(), ", "))
	}
	_, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "create":
		if !known || *userName == "" {
			return errors.New("apikey create: --api and --user are required")
		}
		u, err := st.GetUserByUserName(ctx, *userName)
		if err != nil {
			return fmt.Errorf("apikey create: user %q: %w", *userName, err)
		}
		scopes := []string{"read", "write"}
		if *readOnly {
			scopes = []string{"read"}
		}
		token, idLen := newKey()
		keyName := *name
		if keyName == "" {
			keyName = *api + " key for " + u.UserName
		}
		cred, err := auth.IssueKey(ctx, st, cliActor, *api, token, idLen, u.Key, keyName, scopes)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s key %d created for %s (%s); shown only this once:\n%s\n",
			*api, cred.ID, u.UserName, strings.Join(scopes, "+"), token)
		return nil
	case "list":
		if known {
			return listCredentials(ctx, st, stdout, auth.KeyKind(*api))
		}
		for _, d := range dialects() {
			if err := listCredentials(ctx, st, stdout, auth.KeyKind(d)); err != nil {
				return err
			}
		}
		return nil
	case "revoke":
		kinds := []string{}
		for _, d := range dialects() {
			kinds = append(kinds, auth.KeyKind(d))
		}
		return revoke(ctx, st, fs.Args(), "", stdout, kinds...)
	}
	return fmt.Errorf("apikey: unknown action %q", args[0])
}

func dialects() []string {
	var out []string
	for d := range app.KeyFormats {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func listCredentials(ctx context.Context, st store.Store, stdout io.Writer, kind string) error {
	creds, err := st.ListCredentials(ctx, kind)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	for _, c := range creds {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\tuser=%d\tscopes=%s\tcreated=%s\n", c.ID, c.Kind, c.Name, c.Identifier,
			c.UserKey, strings.Join(c.Scopes, ","), c.Created.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

// revoke deletes credentials by id, refusing ids of other kinds.
func revoke(ctx context.Context, st store.Store, ids []string, kind string, stdout io.Writer, kinds ...string) error {
	if len(ids) == 0 {
		return errors.New("revoke: give the id(s) to revoke")
	}
	if kind != "" {
		kinds = append(kinds, kind)
	}
	allowed := map[int64]bool{}
	for _, k := range kinds {
		creds, err := st.ListCredentials(ctx, k)
		if err != nil {
			return err
		}
		for _, c := range creds {
			allowed[c.ID] = true
		}
	}
	for _, s := range ids {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || !allowed[id] {
			return fmt.Errorf("revoke: no such credential %q", s)
		}
		if err := st.Write(ctx, cliActor, func(tx store.Tx) error { return tx.DeleteCredential(ctx, id) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %d\n", id)
	}
	return nil
}

func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, false)
	out := fs.String("out", "", "file to write the backup to (must not exist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("backup: --out is required")
	}
	// Lstat, not Stat: a dangling symbolic link "does not exist" to Stat,
	// and the copy would be written to wherever it points. BackupTo
	// checks again as it creates the file (0600).
	if fi, err := os.Lstat(*out); err == nil {
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("backup: %s is a symbolic link; name the file itself", *out)
		}
		return fmt.Errorf("backup: %s exists", *out)
	}
	_, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.BackupTo(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s\n", *out)
	return nil
}
