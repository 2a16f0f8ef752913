package pterodactyl

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// attributes is the panel's user transformer output (spec §3), in its order.
type attributes struct {
	ID            int64          `json:"id"`
	ExternalID    *string        `json:"external_id"`
	UUID          string         `json:"uuid"`
	Username      string         `json:"username"`
	Email         string         `json:"email"`
	FirstName     string         `json:"first_name"`
	LastName      string         `json:"last_name"`
	Language      string         `json:"language"`
	RootAdmin     bool           `json:"root_admin"`
	TwoFA         bool           `json:"2fa"`
	CreatedAt     string         `json:"created_at"`
	UpdatedAt     string         `json:"updated_at"`
	Relationships *relationships `json:"relationships,omitempty"`
}

type relationships struct {
	Servers list `json:"servers"`
}

type item struct {
	Object     string     `json:"object"`
	Attributes attributes `json:"attributes"`
	Meta       *itemMeta  `json:"meta,omitempty"`
}

type itemMeta struct {
	Resource string `json:"resource"`
}

type list struct {
	Object string    `json:"object"`
	Data   []item    `json:"data"`
	Meta   *listMeta `json:"meta,omitempty"`
}

type listMeta struct {
	Pagination pagination `json:"pagination"`
}

type pagination struct {
	Total       int               `json:"total"`
	Count       int               `json:"count"`
	PerPage     int               `json:"per_page"`
	CurrentPage int               `json:"current_page"`
	TotalPages  int               `json:"total_pages"`
	Links       map[string]string `json:"links"`
}

// timestamp is PHP's toAtomString() in UTC: second precision, "+00:00".
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

// render maps a stored user onto the panel's user object (README mapping
// table). first_name and last_name come from displayName when the user has
// no name parts (legacyapi.GivenFamily). Whatever it shows, an update
// takes back unchanged (validator.asShown).
func (s *server) render(u *store.User, withServers bool) item {
	given, family := legacyapi.GivenFamily(u)
	a := attributes{
		ID: u.Key, UUID: u.ID, Username: strings.ToLower(u.UserName), Email: u.PrimaryEmail(),
		FirstName: given, LastName: family, Language: s.language(u.PreferredLanguage),
		RootAdmin: store.IsAdmin(u), CreatedAt: timestamp(u.Meta.Created), UpdatedAt: timestamp(u.Meta.LastModified),
	}
	if u.ExternalID != "" {
		ext := u.ExternalID
		a.ExternalID = &ext
	}
	if withServers {
		a.Relationships = &relationships{Servers: list{Object: "list", Data: []item{}}}
	}
	return item{Object: "user", Attributes: a}
}

// language is how the panel shows a preferred language: as stored when the
// panel has it installed, else the panel's default ("en", or the first
// installed language when "en" is not). A language set through another door
// that the panel lacks is shown as the default, as the panel itself would;
// the validator takes the shown value back unchanged (asShown), so writing
// the view back passes the `in` rule and leaves the stored language alone.
func (s *server) language(pref string) string {
	if s.languages[pref] {
		return pref
	}
	if s.languages["en"] || len(s.cfg.Languages) == 0 {
		return "en"
	}
	return s.cfg.Languages[0]
}

// includesServers reports whether include (comma list or include[]) names servers.
func includesServers(r *http.Request) bool {
	q := r.URL.Query()
	for _, v := range append(q["include"], q["include[]"]...) {
		for _, name := range strings.Split(v, ",") {
			if strings.TrimSpace(name) == "servers" {
				return true
			}
		}
	}
	return false
}

func (s *server) get(w http.ResponseWriter, r *http.Request, c *call) {
	httpjson.Write(w, http.StatusOK, s.render(c.target, includesServers(r)))
}

func (s *server) actor(r *http.Request, c *call) store.Actor {
	return legacyapi.Actor(r, Dialect, c.owner.UserName+" ("+c.key.Identifier+")")
}

// passwordHash hashes the body's password before the transaction (argon2id
// is slow; the write lock should not wait for it). An absent password
// gives a new user a random one nobody knows, as the panel does before it
// mails a set-password link.
func passwordHash(in input, creating bool) (string, error) {
	if pw, ok := in["password"].(string); ok && pw != "" {
		return auth.HashPassword(pw)
	}
	if creating {
		return auth.RandomPasswordHash()
	}
	return "", nil
}

// newPassword is the password the request sets, handed on beside its hash
// for directory write-back.
func newPassword(in input) store.Secret {
	pw, _ := in["password"].(string)
	return store.Secret(pw)
}

func (s *server) create(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	hash, err := passwordHash(c.input, true)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	u := &store.User{Active: true, PasswordHash: hash, NewPassword: newPassword(c.input)}
	err = s.deps.Store.Write(ctx, s.actor(r, c), func(tx store.Tx) error {
		f, errs, err := s.validate(ctx, tx, c.input, nil)
		if err != nil {
			return err
		}
		if failed(errs) {
			return &invalid{errs: errs}
		}
		u.UserName = f.username
		u.ExternalID = f.externalID
		legacyapi.SetPrimaryEmail(u, f.email)
		legacyapi.SetGivenFamily(u, f.firstName, f.lastName)
		store.SetPrivilegeFlag(u, store.PrivilegeAdmin, f.rootAdmin)
		if f.hasLanguage {
			u.PreferredLanguage = f.language
		}
		if err := store.CheckChange(store.PrivilegeOf(c.owner), nil, u); err != nil {
			return err
		}
		return refused(tx.CreateUser(ctx, u), errs)
	})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	out := s.render(u, false)
	out.Meta = &itemMeta{Resource: legacyapi.BaseURL(r, s.cfg.BaseURL) + r.URL.Path + "/" + strconv.FormatInt(u.Key, 10)}
	httpjson.Write(w, http.StatusCreated, out)
}

func (s *server) update(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	hash, err := passwordHash(c.input, false)
	if err != nil {
		s.failed(w, r, err)
		return
	}
	var updated *store.User
	err = s.deps.Store.Write(ctx, s.actor(r, c), func(tx store.Tx) error {
		self, err := tx.GetUser(ctx, c.target.ID)
		if err != nil {
			return err
		}
		f, errs, err := s.validate(ctx, tx, c.input, self)
		if err != nil {
			return err
		}
		if failed(errs) {
			return &invalid{errs: errs}
		}
		if hash != "" && auth.DirectoryManaged(self) {
			return &display{"This account's password is managed by its directory (" + self.Source.Name +
				") and cannot be changed here."}
		}
		updated, err = tx.UpdateUser(ctx, self.ID, legacyapi.CheckedUpdate(store.PrivilegeOf(c.owner), func(u *store.User) error {
			u.UserName = f.username
			if u.PrimaryEmail() != f.email {
				legacyapi.SetPrimaryEmail(u, f.email)
			}
			// Compared with what the panel showed: parts derived from
			// displayName, sent back as they were, store nothing.
			if given, family := legacyapi.GivenFamily(u); given != f.firstName || family != f.lastName {
				legacyapi.SetGivenFamily(u, f.firstName, f.lastName)
			}
			if f.hasExternalID {
				u.ExternalID = f.externalID
			}
			if f.hasRootAdmin {
				// root_admin means "an admin or the owner": true keeps
				// an owner an owner, false takes either to a plain user.
				store.SetPrivilegeFlag(u, store.PrivilegeAdmin, f.rootAdmin)
			}
			if f.hasLanguage {
				u.PreferredLanguage = f.language
			}
			if hash != "" {
				u.PasswordHash, u.NewPassword = hash, newPassword(c.input)
			}
			return nil
		}))
		return refused(err, errs)
	})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, s.render(updated, includesServers(r)))
}

func (s *server) delete(w http.ResponseWriter, r *http.Request, c *call) {
	err := s.deps.Store.Write(r.Context(), s.actor(r, c), func(tx store.Tx) error {
		target, err := tx.GetUser(r.Context(), c.target.ID)
		if err != nil {
			return err
		}
		if err := store.CheckDelete(store.PrivilegeOf(c.owner), target); err != nil {
			return err
		}
		return tx.DeleteUser(r.Context(), c.target.ID)
	})
	if err != nil {
		s.failed(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) servers(w http.ResponseWriter, r *http.Request, c *call) {
	httpjson.Write(w, http.StatusOK, list{Object: "list", Data: []item{}, Meta: &listMeta{Pagination: pagination{
		PerPage: defaultPerPage, CurrentPage: 1, TotalPages: 1, Links: map[string]string{},
	}}})
}
