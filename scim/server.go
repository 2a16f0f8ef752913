// Package scim is the SCIM 2.0 door (RFC 7643, RFC 7644, RFC 9865 cursors)
// onto the store: Users with the Enterprise extension, Groups, discovery,
// filtering, sorting, paging, projection, PATCH, ETags, Bulk and search.
//
// It takes its schema definitions from github.com/elimity-com/scim and owns
// all protocol behaviour itself: the library's handler lacks sorting,
// projection, ETags, Bulk and several filters real identity providers send.
package scim

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/httpjson"
	"github.com/scimbridge/scimbridge/store"
)

const contentType = "application/scim+json"

// Principal is an authenticated SCIM client.
type Principal struct {
	Name string
	// UserKey binds the token to a user (for /Me); 0 when unbound.
	UserKey int64
	// Domain is the client's provisioning domain: the externalIds it
	// reads, writes and filters on are that domain's ("" is
	// store.DefaultDomain).
	Domain string
	// Compat overrides Options.Compat for this client ("" keeps it).
	Compat string
	// Scope is what the credential may reach: auth.ScopeSCIMProvisioning
	// (every endpoint; also when empty) or auth.ScopeSCIMMe (/Me only).
	Scope string
}

// MeOnly reports whether the principal may reach /Me only: a /Me-scoped
// credential, and any credential bound to a user.
func (p *Principal) MeOnly() bool { return p.Scope == auth.ScopeSCIMMe || p.UserKey != 0 }

// The compatibility modes (Options.Compat, Principal.Compat): where Entra
// and RFC 7644 disagree, which one a client gets.
const (
	// CompatEntra: a PATCH replace whose value filter matches nothing adds
	// the entry, as Entra expects (emails[type eq "work"].value on a user
	// without a work e-mail).
	CompatEntra = "entra"
	// CompatStrict: that replace is 400 noTarget (RFC 7644 §3.5.2.3).
	CompatStrict = "strict"
)

// Authenticator decides who a request comes from; (nil, nil) means the
// credentials are missing or wrong.
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// Options configure the SCIM server.
type Options struct {
	Store store.Store
	Log   *slog.Logger
	Auth  Authenticator
	// BaseURL is the public URL of the SCIM root used in Location and $ref
	// ("https://idp.example.com/scim/v2"); empty derives it per request.
	BaseURL string
	// MaxBody limits request bodies (bytes); 0 means 1 MiB.
	MaxBody int64
	// DefaultPageSize and MaxPageSize bound list responses; 0 means 100 and 1000.
	DefaultPageSize int
	MaxPageSize     int
	// PatchResponse is how a successful PATCH is answered when the client
	// asks for no attributes: "auto" (users 200 with the resource, groups
	// 204), "resource" (always 200) or "no-content" (always 204).
	PatchResponse string
	// BulkMaxOperations and BulkMaxPayload bound /Bulk; 0 means 1000 and 1 MiB.
	BulkMaxOperations int
	BulkMaxPayload    int64
	// TestTokenEndpoint serves GET /scim/Token, which hands a new token to
	// anyone: only for Microsoft's Postman collection, never in production.
	TestTokenEndpoint bool
	// Compat is the compatibility mode of clients whose credential names
	// none: CompatEntra (also for "") or CompatStrict.
	Compat string
	// AdvertisePagination adds RFC 9865's "pagination" object to
	// /ServiceProviderConfig. Cursors are served either way; the object is
	// off by default because strict RFC 7643 clients reject an attribute
	// the ServiceProviderConfig schema does not define.
	AdvertisePagination bool
}

// Server serves SCIM.
type Server struct {
	opts Options
	st   store.Store
	log  *slog.Logger
	// router and prefix are set by Mount; Bulk dispatches through them.
	router http.Handler
	prefix string
}

// New returns a SCIM server.
func New(opts Options) *Server {
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.DefaultPageSize <= 0 {
		opts.DefaultPageSize = 100
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = 1000
	}
	if opts.DefaultPageSize > opts.MaxPageSize {
		opts.DefaultPageSize = opts.MaxPageSize
	}
	if opts.BulkMaxOperations <= 0 {
		opts.BulkMaxOperations = 1000
	}
	if opts.BulkMaxPayload <= 0 {
		opts.BulkMaxPayload = 1 << 20
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.Compat != CompatStrict {
		opts.Compat = CompatEntra
	}
	return &Server{opts: opts, st: opts.Store, log: opts.Log}
}

// Mount adds the SCIM routes below prefix (e.g. "/scim/v2"). Resource
// paths match case-insensitively ("/users" as well as "/Users").
func (s *Server) Mount(r *mux.Router, prefix string) {
	prefix = strings.TrimRight(prefix, "/")
	sub := r.PathPrefix(prefix).Subrouter()
	sub.Use(s.recoverer)
	s.router, s.prefix = CaseInsensitive(prefix, sub), prefix
	open := func(path string, h func(w http.ResponseWriter, r *http.Request) error, methods ...string) {
		sub.Handle(path, s.handle(prefix, h)).Methods(methods...)
	}
	authed := func(path string, h func(w http.ResponseWriter, r *http.Request) error, methods ...string) {
		sub.Handle(path, s.authenticate(false, s.handle(prefix, h))).Methods(methods...)
	}
	// Routes are tried in this order (each a regular expression): the
	// resources, which clients call all day, come before discovery.
	authed("/Users/{id}", s.getUser, http.MethodGet)
	authed("/Users", s.listUsers, http.MethodGet)
	authed("/Users", s.createUser, http.MethodPost)
	authed("/Users/.search", s.searchUsers, http.MethodPost)
	authed("/Users/{id}", s.replaceUser, http.MethodPut)
	authed("/Users/{id}", s.patchUser, http.MethodPatch)
	authed("/Users/{id}", s.deleteUser, http.MethodDelete)

	authed("/Groups", s.listGroups, http.MethodGet)
	authed("/Groups", s.createGroup, http.MethodPost)
	authed("/Groups/.search", s.searchGroups, http.MethodPost)
	authed("/Groups/{id}", s.getGroup, http.MethodGet)
	authed("/Groups/{id}", s.replaceGroup, http.MethodPut)
	authed("/Groups/{id}", s.patchGroup, http.MethodPatch)
	authed("/Groups/{id}", s.deleteGroup, http.MethodDelete)

	// Discovery needs no credentials: it describes the server, nothing else.
	open("/ServiceProviderConfig", s.serviceProviderConfig, http.MethodGet)
	// The name in early SCIM 2.0 drafts, still probed by Microsoft's samples.
	open("/serviceConfiguration", s.serviceProviderConfig, http.MethodGet)
	open("/ResourceTypes", s.resourceTypes, http.MethodGet)
	open("/ResourceTypes/{id}", s.resourceType, http.MethodGet)
	open("/Schemas", s.schemas, http.MethodGet)
	open("/Schemas/{id}", s.schemaByID, http.MethodGet)

	authed("/.search", s.searchAll, http.MethodPost)
	authed("/", s.listRoot, http.MethodGet)
	authed("", s.listRoot, http.MethodGet)
	authed("/Bulk", s.bulk, http.MethodPost)
	sub.Handle("/Me", s.authenticate(true, s.handle(prefix, s.me))).
		Methods(http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost)

	sub.NotFoundHandler = s.handle(prefix, func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "", "no SCIM endpoint at %s", r.URL.Path)
	})
	sub.MethodNotAllowedHandler = s.handle(prefix, func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusMethodNotAllowed, "", "%s is not allowed on %s", r.Method, r.URL.Path)
	})
}

// CaseInsensitive rewrites the resource segment of SCIM paths below prefix
// to its canonical case before routing: some clients probe "/users". Wrap
// the whole router with it (routing middleware runs too late to rewrite).
func CaseInsensitive(prefix string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		canonicalPath(prefix, r)
		next.ServeHTTP(w, r)
	})
}

// canonicalNames maps each lower-cased resource segment to its SCIM case.
var canonicalNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk", "Me"} {
		m[strings.ToLower(n)] = n
	}
	return m
}()

// canonicalPath rewrites r's path in place: the resource segment below
// prefix in its canonical case, and "/Users/" (a trailing slash) as "/Users".
func canonicalPath(prefix string, r *http.Request) {
	prefix = strings.TrimRight(prefix, "/") + "/"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		return
	}
	seg, tail, hasTail := strings.Cut(rest, "/")
	if c, ok := canonicalNames[strings.ToLower(seg)]; ok && (c != seg || hasTail && tail == "") {
		r.URL.Path = prefix + c
		if hasTail && tail != "" {
			r.URL.Path += "/" + tail
		}
		r.URL.RawPath = ""
	}
}

type principalKey struct{}

// authenticate lets authenticated principals through to next; me says
// whether next is /Me, the only endpoint a /Me-scoped principal reaches.
func (s *Server) authenticate(me bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Auth == nil {
			next.ServeHTTP(w, r)
			return
		}
		p, err := s.opts.Auth.Authenticate(r)
		if err != nil {
			WriteError(w, asError(s.log, r, err))
			return
		}
		if p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scimbridge"`)
			WriteError(w, errorf(http.StatusUnauthorized, "", "missing or invalid bearer token"))
			return
		}
		if p.MeOnly() && !me {
			WriteError(w, errorf(http.StatusForbidden, "", "this token is bound to a user: it may use /Me only"))
			return
		}
		// The client's provisioning domain scopes every externalId the
		// store reads or writes for this request.
		ctx := store.WithDomain(withPrincipal(r.Context(), p), p.Domain)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recoverer turns a panic in a handler into a SCIM 500; nothing else of
// it reaches the client.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "scim: panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				WriteError(w, errorf(http.StatusInternalServerError, "", "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type baseKey struct{}

// handle adapts a handler that returns an error.
func (s *Server) handle(prefix string, h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := s.opts.BaseURL
		if base == "" {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			base = scheme + "://" + r.Host + prefix
		}
		r = r.WithContext(withBase(r.Context(), base))
		if err := h(w, r); err != nil {
			WriteError(w, asError(s.log, r, err))
		}
	})
}

// writeJSON writes a SCIM answer.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	return httpjson.WriteAs(w, status, contentType, v)
}

// readBody reads a JSON object body within the size limit: the one body
// reader of every handler, Bulk included (with its own limit).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64) (map[string]any, error) {
	body, err := httpjson.ReadBody(w, r, limit)
	if errors.Is(err, httpjson.ErrBodyTooLarge) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "", "request body exceeds %d bytes", limit)
	}
	if err != nil {
		return nil, badRequest(typeInvalidSyntax, "cannot read request body")
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, badRequest(typeInvalidSyntax, "request body must be a JSON object")
		}
		return nil, badRequest(typeInvalidSyntax, "malformed JSON: %v", err)
	}
	if doc == nil {
		return nil, badRequest(typeInvalidSyntax, "request body must be a JSON object")
	}
	return doc, nil
}

// hasSchema reports whether v, a message's "schemas" value, is an array
// that names urn (case-insensitively, as some clients change the case).
func hasSchema(v any, urn string) bool {
	list, _ := v.([]any)
	for _, s := range list {
		if str, ok := s.(string); ok && strings.EqualFold(str, urn) {
			return true
		}
	}
	return false
}

// actor is the activity-log actor of a SCIM request.
func actor(r *http.Request) store.Actor {
	a := store.Actor{Door: "scim", Address: httpjson.ClientIP(r)}
	if p := principalFrom(r.Context()); p != nil {
		a.Principal = p.Name
	}
	return a
}

// compat returns the compatibility mode of the request's client.
func (s *Server) compat(r *http.Request) string {
	if p := principalFrom(r.Context()); p != nil && (p.Compat == CompatEntra || p.Compat == CompatStrict) {
		return p.Compat
	}
	return s.opts.Compat
}

// checkIfMatch enforces an If-Match precondition against a version.
func checkIfMatch(r *http.Request, version int64) error {
	h := r.Header.Get("If-Match")
	if h == "" || matchesETag(h, version) {
		return nil
	}
	return errorf(http.StatusPreconditionFailed, "", "resource changed: version is %s", etag(version))
}

// notModified answers 304 when the request's If-None-Match names the
// version, and reports whether it did.
func notModified(w http.ResponseWriter, r *http.Request, version int64) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" || !matchesETag(inm, version) {
		return false
	}
	w.Header().Set("ETag", etag(version))
	w.WriteHeader(http.StatusNotModified)
	return true
}

// matchesETag reports whether an If-Match/If-None-Match list names the
// version (weak comparison, RFC 7232 §2.3.2) or is "*".
func matchesETag(header string, version int64) bool {
	want := strconv.FormatInt(version, 10)
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" {
			return true
		}
		tag = strings.TrimPrefix(tag, "W/")
		if strings.Trim(tag, `"`) == want {
			return true
		}
	}
	return false
}

// hashPassword hashes a new password; empty stays empty.
func hashPassword(pw string) (string, error) {
	if pw == "" {
		return "", nil
	}
	return auth.HashPassword(pw)
}
