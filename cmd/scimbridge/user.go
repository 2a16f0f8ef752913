package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

// userCmd creates the first administrator explicitly (no right follows
// from a user name) and sets a user's privilege:
//
//	scimbridge user create --name NAME [--password-file FILE] [--role ROLE] [--email ADDR]
//	scimbridge user set-role --name NAME --role ROLE
//
// ROLE is owner, admin, moderator or user (README, the privilege table).
func userCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("user: want create or set-role")
	}
	fs := flag.NewFlagSet("user "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, false)
	name := fs.String("name", "", "the user name")
	role := fs.String("role", "user", "owner, admin, moderator or user")
	passwordFile := fs.String("password-file", "", "file whose first line is the password (create)")
	email := fs.String("email", "", "the user's e-mail address (create)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	priv, ok := store.ParsePrivilege(*role)
	if !ok {
		return fmt.Errorf("user %s: --role %q: want owner, admin, moderator or user", args[0], *role)
	}
	if strings.TrimSpace(*name) == "" {
		return fmt.Errorf("user %s: --name is required", args[0])
	}
	switch args[0] {
	case "create":
		return createUser(ctx, c, *name, *passwordFile, *email, priv, stdout)
	case "set-role":
		_, st, err := c.open(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		err = st.Write(ctx, cliActor, func(tx store.Tx) error {
			u, err := tx.GetUserByUserName(ctx, *name)
			if err != nil {
				return err
			}
			_, err = tx.UpdateUser(ctx, u.ID, func(u *store.User) error {
				store.SetPrivilege(u, priv)
				return nil
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("user set-role: %q: %w", *name, err)
		}
		fmt.Fprintf(stdout, "user %s is now %s\n", *name, priv)
		return nil
	}
	return fmt.Errorf("user: unknown action %q", args[0])
}

func createUser(ctx context.Context, c common, name, passwordFile, email string, priv store.Privilege, stdout io.Writer) error {
	hash := ""
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return fmt.Errorf("user create: %w", err)
		}
		password, _, _ := strings.Cut(string(b), "\n")
		password = strings.TrimRight(password, "\r")
		if password == "" {
			return fmt.Errorf("user create: %s: the first line is empty", passwordFile)
		}
		if hash, err = auth.HashPassword(password); err != nil {
			return err
		}
	}
	_, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	u := &store.User{UserName: name, Active: true, PasswordHash: hash}
	store.SetPrivilege(u, priv)
	if email != "" {
		u.Emails = []store.Value{{Value: email, Type: "work", Primary: true}}
	}
	if err := st.Write(ctx, cliActor, func(tx store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
		return fmt.Errorf("user create: %q: %w", name, err)
	}
	fmt.Fprintf(stdout, "user %s created (id %s, %s)\n", u.UserName, u.ID, priv)
	return nil
}
