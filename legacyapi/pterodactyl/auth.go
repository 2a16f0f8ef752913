package pterodactyl

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// scope is the per-key permission on users a route needs (the panel's
// r_users bit mask: 1 read, 2 write).
type scope string

const (
	scopeNone  scope = ""
	scopeRead  scope = "read"
	scopeWrite scope = "write"
)

type routeOpts struct {
	scope      scope
	byID       bool // {id} names a user: 404 before the permission checks
	byExternal bool // {external_id} names a user
	body       bool // the route reads a JSON (or form) body
}

// call is what the checks established about a request.
type call struct {
	key    *store.Credential
	owner  *store.User
	target *store.User // the {id}/{external_id} user, when the route has one
	input  input       // the parsed body, when the route reads one
}

// keyData is the door-specific part of a key (Credential.Data), e.g.
// {"allowed_ips":["10.0.0.0/8","192.0.2.7"]}.
type keyData struct {
	AllowedIPs []string `json:"allowed_ips"`
}

// route runs the panel's checks in its order (spec §2; body size first as
// Laravel's global middleware does, malformed JSON right after auth as the
// api middleware group does): 413, 401, 429, 400, 403 IP, 404, 403 admin,
// 403 key ACL; then the handler validates (422).
func (s *server) route(o routeOpts, h func(w http.ResponseWriter, r *http.Request, c *call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				s.internalError(w, r, errors.New("panic: "+strings.TrimSpace(strings.SplitN(toString(v), "\n", 2)[0])))
			}
		}()
		var raw []byte
		if o.body {
			var err error
			raw, err = httpjson.ReadBody(w, r, s.deps.BodyLimit())
			if errors.Is(err, httpjson.ErrBodyTooLarge) {
				writeError(w, http.StatusRequestEntityTooLarge, "PostTooLargeException", "The request body is too large.")
				return
			}
			if err != nil {
				writeError(w, http.StatusBadRequest, "BadRequestHttpException", "The request body could not be read.")
				return
			}
		}
		c := &call{}
		key, owner, err := s.keys.Lookup(r.Context(), s.deps.Store, auth.KeyKind(Dialect), httpjson.BearerToken(r), s.deps.Clock())
		if err != nil {
			if store.KindOf(err) != store.KindNotFound {
				s.failed(w, r, err)
				return
			}
			unauthenticated(w)
			return
		}
		if owner == nil || !owner.Active {
			// A key without a (still active) owner authenticates no one.
			unauthenticated(w)
			return
		}
		c.key, c.owner = key, owner
		if s.limiter != nil && !s.allowRate(w, owner.Key) {
			writeError(w, http.StatusTooManyRequests, "ThrottleRequestsException", "Too Many Attempts.")
			return
		}
		if o.body {
			in, err := parseInput(r, raw)
			if err != nil {
				writeError(w, http.StatusBadRequest, "BadRequestHttpException",
					"The JSON data passed in the request appears to be malformed: "+err.Error())
				return
			}
			c.input = in
		}
		if !ipAllowed(key, r) {
			forbidden(w, "This IP address ("+httpjson.ClientIP(r)+") does not have permission to access the API using these credentials.")
			return
		}
		switch {
		case o.byID:
			id, ok := legacyapi.ParseKey(mux.Vars(r)["id"])
			if !ok {
				notFound(w)
				return
			}
			c.target, err = s.deps.Store.GetUserByKey(r.Context(), id)
		case o.byExternal:
			c.target, err = s.userByExternalID(r, mux.Vars(r)["external_id"])
		}
		if err != nil {
			s.failed(w, r, err)
			return
		}
		if !store.IsAdmin(owner) {
			forbidden(w, detailNotAdmin)
			return
		}
		if o.scope != scopeNone && !auth.HasScope(key, string(o.scope)) {
			forbidden(w, detailUnauthorized)
			return
		}
		h(w, r, c)
	}
}

func (s *server) userByExternalID(r *http.Request, ext string) (*store.User, error) {
	if ext == "" {
		return nil, store.Errorf(store.KindNotFound, "no external id")
	}
	page, err := s.deps.Store.ListUsers(r.Context(), store.Query{
		Filter: store.Compare{Attr: "externalId", Op: store.OpEq, Value: ext}, Limit: 1,
	})
	if err != nil {
		return nil, err
	}
	if len(page.Users) == 0 {
		return nil, store.Errorf(store.KindNotFound, "user not found")
	}
	return page.Users[0], nil
}

// ipAllowed applies the key's optional allow-list of addresses and CIDR ranges.
func ipAllowed(key *store.Credential, r *http.Request) bool {
	if key.Data == "" {
		return true
	}
	var d keyData
	if json.Unmarshal([]byte(key.Data), &d) != nil || len(d.AllowedIPs) == 0 {
		return true
	}
	ip, err := netip.ParseAddr(httpjson.ClientIP(r))
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, a := range d.AllowedIPs {
		if p, err := netip.ParsePrefix(a); err == nil && p.Contains(ip) {
			return true
		}
		if ipa := net.ParseIP(a); ipa != nil {
			if want, ok := netip.AddrFromSlice(ipa); ok && want.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

func toString(v any) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return "unexpected failure"
}

// allowRate counts one request for owner against the panel's per-owner
// limit (a fixed one-minute window) and sets the X-RateLimit headers; on
// false it has also set Retry-After.
func (s *server) allowRate(w http.ResponseWriter, owner int64) bool {
	ok, remaining, retry := s.limiter.Take(owner, s.deps.Clock())
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.limiter.Limit()))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	if !ok {
		h.Set("Retry-After", strconv.Itoa(max(int((retry+time.Second-1)/time.Second), 1)))
	}
	return ok
}
