package pterodactyl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/store"
)

// input is a request body as the panel's validator sees it, after
// Laravel's TrimStrings and ConvertEmptyStringsToNull middleware: field →
// nil, string, json.Number, bool, []any or map[string]any.
type input map[string]any

//lint:ignore ST1005 the text is PHP's json_last_error_msg(), which clients see.
var errSyntax = errors.New("Syntax error")

// parseInput reads a JSON body, or a form body as Laravel also accepts one.
// Only a body that claims to be JSON can be malformed; anything else that
// does not parse counts as empty input, which fails `required`.
func parseInput(r *http.Request, raw []byte) (input, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	in := input{}
	if ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return in, nil
		}
		for k, vs := range form {
			in[k] = vs[len(vs)-1]
		}
		return normalise(in), nil
	}
	isJSON := ct == "application/json" || strings.HasSuffix(ct, "+json")
	if len(bytes.TrimSpace(raw)) == 0 {
		return in, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errSyntax
		}
	}
	if err != nil {
		if isJSON {
			return nil, errSyntax
		}
		return in, nil
	}
	if obj, ok := v.(map[string]any); ok {
		in = obj
	}
	return normalise(in), nil
}

// normalise trims strings (but not passwords) and turns "" into null.
func normalise(in input) input {
	for k, v := range in {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if k != "password" {
			s = strings.TrimSpace(s)
		}
		if s == "" {
			in[k] = nil
		} else {
			in[k] = s
		}
	}
	return in
}

// fieldError is one failed rule.
type fieldError struct {
	field, rule, detail string
	// taken, on a unique rule the store keeps (username, external_id),
	// looks the value up. Such an entry is not a failure yet: the store
	// decides when the write is tried, and errors.go asks taken only to
	// complete a list that is a 422 anyway (invalid.complete).
	taken func(ctx context.Context, rd store.Reader) (bool, error)
}

// failed reports whether a rule failed, the store's unique rules aside.
func failed(errs []fieldError) bool {
	for _, e := range errs {
		if e.taken == nil {
			return true
		}
	}
	return false
}

// fields is a validated user body; has* say which optional fields came.
type fields struct {
	email, username, firstName, lastName string
	externalID                           string
	hasExternalID                        bool
	password                             string
	rootAdmin, hasRootAdmin              bool
	language                             string
	hasLanguage                          bool
}

var usernameRule = regexp.MustCompile(`^[a-z0-9]([\w.-]+)[a-z0-9]$`)

const maxLen = 191

// attribute names the panel uses in messages.
func attr(field string) string {
	switch field {
	case "external_id":
		return "Third Party Identifier"
	case "root_admin":
		return "Root Administrator Status"
	}
	return strings.ReplaceAll(field, "_", " ")
}

// validator checks one create (self == nil) or update body against the
// panel's rules (spec §4), one method per field, in the panel's order.
type validator struct {
	ctx     context.Context
	rd      store.Reader // the write transaction, so the e-mail check holds at commit
	in      input
	self    *store.User // the user being updated; nil on create
	selfKey int64
	// shown is how the panel shows self (nil on create): a field sent back
	// as shown passes unchanged, whatever the rules say of the stored
	// value (legacyapi.SameAsShown).
	shown     map[string]any
	languages map[string]bool
	f         fields
	errs      []fieldError
}

// asShown reports whether an update sends field back as the panel shows it.
func (v *validator) asShown(field string) bool {
	sent, ok := v.in[field]
	return ok && v.shown != nil && legacyapi.SameAsShown(v.shown[field], sent)
}

func (v *validator) fail(field, rule, detail string) {
	v.errs = append(v.errs, fieldError{field: field, rule: rule, detail: detail})
}

func (v *validator) required(field string) bool {
	val := v.in[field]
	switch x := val.(type) {
	case nil:
	case []any:
		if len(x) > 0 {
			return true
		}
	case map[string]any:
		if len(x) > 0 {
			return true
		}
	default:
		return true
	}
	v.fail(field, "required", "The "+attr(field)+" field is required.")
	return false
}

func (v *validator) isString(field string) (string, bool) {
	s, ok := v.in[field].(string)
	if !ok {
		v.fail(field, "string", "The "+attr(field)+" must be a string.")
	}
	return s, ok
}

func (v *validator) between(field string) {
	if n := size(v.in[field]); n < 1 || n > maxLen {
		v.fail(field, "between", "The "+attr(field)+" must be between 1 and "+strconv.Itoa(maxLen)+" characters.")
	}
}

func (v *validator) max(field string) {
	if size(v.in[field]) > maxLen {
		v.fail(field, "max", "The "+attr(field)+" may not be greater than "+strconv.Itoa(maxLen)+" characters.")
	}
}

func (v *validator) taken(field string) {
	v.errs = append(v.errs, uniqueError(field))
}

// unique records a unique rule the store keeps, for the store to decide
// (see fieldError.taken).
func (v *validator) unique(field string, taken func(ctx context.Context, rd store.Reader) (bool, error)) {
	e := uniqueError(field)
	e.taken = taken
	v.errs = append(v.errs, e)
}

func uniqueError(field string) fieldError {
	return fieldError{field: field, rule: "unique", detail: "The " + attr(field) + " has already been taken."}
}

// size is Laravel's size of a value without a numeric rule: characters of
// its string form, or elements of an array.
func size(val any) int {
	switch x := val.(type) {
	case string:
		return utf8.RuneCountInString(x)
	case json.Number:
		return utf8.RuneCountInString(x.String())
	case bool:
		if x {
			return 1
		}
		return 0
	case []any:
		return len(x)
	case map[string]any:
		return len(x)
	}
	return 0
}

// scalar is the string form of a string or number, as PHP casts it.
func scalar(val any) (string, bool) {
	switch x := val.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// validate checks a create (self == nil) or update body against the rules
// of spec §4, in the panel's field order. rd is the write transaction.
func (s *server) validate(ctx context.Context, rd store.Reader, in input, self *store.User) (fields, []fieldError, error) {
	v := &validator{ctx: ctx, rd: rd, in: in, self: self, languages: s.languages}
	if self != nil {
		v.selfKey = self.Key
		v.shown = legacyapi.ShownFields(s.render(self, false).Attributes)
	}
	if err := v.email(); err != nil {
		return fields{}, nil, err
	}
	if err := v.externalID(); err != nil {
		return fields{}, nil, err
	}
	v.username()
	v.password()
	v.rootAdmin()
	v.language()
	v.name("first_name", &v.f.firstName)
	v.name("last_name", &v.f.lastName)
	return v.f, v.errs, nil
}

// email: required|email|between:1,191|unique. The store does not keep
// e-mail addresses unique; the panel does, so this rule is the dialect's.
func (v *validator) email() error {
	if v.asShown("email") {
		v.f.email = v.self.PrimaryEmail()
		return nil
	}
	if !v.required("email") {
		return nil
	}
	email, isStr := v.in["email"].(string)
	if !isStr || !legacyapi.ValidEmail(email) {
		v.fail("email", "email", "The email must be a valid email address.")
	}
	v.between("email")
	if !isStr {
		return nil
	}
	taken, err := legacyapi.EmailTaken(v.ctx, v.rd, email, v.selfKey)
	if err != nil {
		return err
	}
	if taken {
		v.taken("email")
	}
	v.f.email = email
	return nil
}

// externalID: sometimes|nullable|string|max:191|unique. The store keeps
// externalId per provisioning domain and not unique (RFC 7643 §3.1); the
// panel keeps external_id unique, so this rule is the dialect's, checked
// in the default domain that the panel reads and writes.
func (v *validator) externalID() error {
	val, ok := v.in["external_id"]
	if !ok || v.asShown("external_id") {
		return nil
	}
	v.f.hasExternalID = true
	if val == nil {
		return nil
	}
	ext, isStr := v.isString("external_id")
	v.max("external_id")
	if !isStr {
		return nil
	}
	page, err := v.rd.ListUsers(v.ctx, store.Query{
		Filter: store.Compare{Attr: "externalId", Op: store.OpEq, Value: ext}, Limit: 2})
	if err != nil {
		return err
	}
	for _, u := range page.Users {
		if u.Key != v.selfKey {
			v.taken("external_id")
			break
		}
	}
	v.f.externalID = ext
	return nil
}

// username: required|between:1,191|unique (the store's)|p_username, stored
// lower-case.
func (v *validator) username() {
	if !v.required("username") {
		return
	}
	v.between("username")
	name, ok := scalar(v.in["username"])
	name = strings.ToLower(name)
	unchanged := ok && v.self != nil && strings.EqualFold(v.self.UserName, name)
	if ok {
		selfKey := v.selfKey
		v.unique("username", func(ctx context.Context, rd store.Reader) (bool, error) {
			other, err := rd.GetUserByUserName(ctx, name)
			if store.IsNotFound(err) {
				return false, nil
			}
			return err == nil && other.Key != selfKey, err
		})
	}
	// A user named through another door (SCIM userNames are often e-mail
	// addresses) keeps its name: the format rule only applies to a new name.
	if !unchanged && (!ok || !usernameRule.MatchString(name)) {
		v.fail("username", "p_username", "The username must start and end with alpha-numeric characters and contain only letters, numbers, dashes, underscores, and periods.")
	}
	if unchanged {
		name = v.self.UserName
	}
	v.f.username = name
}

// password: sometimes|nullable|string.
func (v *validator) password() {
	if val, ok := v.in["password"]; ok && val != nil {
		if pw, isStr := v.isString("password"); isStr {
			v.f.password = pw
		}
	}
}

// rootAdmin: boolean.
func (v *validator) rootAdmin() {
	val, ok := v.in["root_admin"]
	if !ok || v.asShown("root_admin") {
		return
	}
	b, isBool := boolean(val)
	if !isBool {
		v.fail("root_admin", "boolean", "The "+attr("root_admin")+" field must be true or false.")
	}
	v.f.rootAdmin, v.f.hasRootAdmin = b, isBool
}

// language: string|in:<installed languages>.
func (v *validator) language() {
	val, ok := v.in["language"]
	if !ok || v.asShown("language") {
		return
	}
	lang, isStr := v.isString("language")
	str, _ := scalar(val)
	if !v.languages[str] {
		v.fail("language", "in", "The selected language is invalid.")
	} else if isStr {
		v.f.language, v.f.hasLanguage = lang, true
	}
}

// name: first_name and last_name, required|string|between:1,191.
func (v *validator) name(field string, to *string) {
	if v.asShown(field) {
		*to, _ = v.shown[field].(string)
		return
	}
	if !v.required(field) {
		return
	}
	*to, _ = v.isString(field)
	v.between(field)
}

// boolean is Laravel's boolean rule: true, false, 1, 0, "1", "0".
func boolean(val any) (bool, bool) {
	switch x := val.(type) {
	case bool:
		return x, true
	case json.Number:
		switch x.String() {
		case "1":
			return true, true
		case "0":
			return false, true
		}
	case string:
		switch x {
		case "1":
			return true, true
		case "0":
			return false, true
		}
	}
	return false, false
}
