// Package config loads scimbridge's configuration: defaults, then a YAML
// file (unknown keys are errors, named with their line), then environment
// variables, then command-line flags (applied by the caller).
package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/pterodactyl"
	"github.com/scimbridge/scimbridge/legacyapi/usersapi"
	"github.com/scimbridge/scimbridge/legacyapi/xpdev"
	"github.com/scimbridge/scimbridge/legacyapi/xstudio"
	"github.com/scimbridge/scimbridge/legacyapi/xyops"
	"github.com/scimbridge/scimbridge/store"
)

// Config is the whole configuration. config.example.yaml documents every key.
type Config struct {
	Listen string `yaml:"listen"`
	// DB is a SQLite file path, or a postgres:// (postgresql://) URL for
	// several nodes on one PostgreSQL database.
	DB string `yaml:"db"`
	// DBPool sizes this node's PostgreSQL connection pool (unused for
	// SQLite).
	DBPool DBPool `yaml:"db_pool"`
	Log    Log    `yaml:"log"`
	// MaxBodyBytes limits every request body.
	MaxBodyBytes int64     `yaml:"max_body_bytes"`
	SCIM         SCIM      `yaml:"scim"`
	Admin        Admin     `yaml:"admin"`
	Metrics      Metrics   `yaml:"metrics"`
	TLS          TLS       `yaml:"tls"`
	RateLimit    RateLimit `yaml:"rate_limit"`
	Debug        Debug     `yaml:"debug"`
	// SQLite tunes the embedded store.
	SQLite SQLite `yaml:"sqlite"`
	// MaxInFlight bounds each door's requests in flight; past it the door
	// answers 503 with Retry-After. 0: no bound.
	MaxInFlight int `yaml:"max_in_flight"`
	// Hashing bounds password hashing (argon2id, 19 MiB each).
	Hashing Hashing `yaml:"hashing"`
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies
	// whose X-Forwarded-For is believed; from any other peer it is ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Identity holds the identity rules an operator may choose.
	Identity Identity        `yaml:"identity"`
	LDAP     ldapsync.Config `yaml:"ldap"`
	Legacy   Legacy          `yaml:"legacy"`

	// origin says where each key that was set came from ("line 3",
	// "SCIMBRIDGE_DB", "--db"), so that Validate can point at it.
	origin map[string]string
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// SCIM configures the SCIM door.
type SCIM struct {
	// Token is a bearer token accepted besides the stored ones. Prefer
	// SCIMBRIDGE_SCIM_TOKEN or TokenFile to keeping it in this file.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// BaseURL is the public URL of the SCIM root, for Location and $ref.
	BaseURL         string `yaml:"base_url"`
	DefaultPageSize int    `yaml:"default_page_size"`
	MaxPageSize     int    `yaml:"max_page_size"`
	// PatchResponse is "auto" (users 200 with the resource, groups 204),
	// "resource" (always 200) or "no-content" (always 204).
	PatchResponse       string `yaml:"patch_response"`
	BulkMaxOperations   int    `yaml:"bulk_max_operations"`
	BulkMaxPayloadBytes int64  `yaml:"bulk_max_payload_bytes"`
	// TestTokenEndpoint serves GET /scim/Token for Microsoft's Postman
	// collection. Never enable it in production.
	TestTokenEndpoint bool `yaml:"test_token_endpoint"`
	// Compat is "entra" (a PATCH replace whose filter matches nothing adds
	// the entry) or "strict" (400 noTarget, RFC 7644 §3.5.2.3), for
	// tokens that name no mode of their own.
	Compat string `yaml:"compat"`
	// AdvertisePagination adds RFC 9865's pagination object to
	// /ServiceProviderConfig (cursors are served either way).
	AdvertisePagination bool `yaml:"advertise_pagination"`
}

// Admin configures the operators' API under /admin.
type Admin struct {
	// Token is an admin bearer token besides stored ones (scimbridge token
	// create --admin). Prefer SCIMBRIDGE_ADMIN_TOKEN.
	Token string `yaml:"token"`
}

// Metrics configures /metrics.
type Metrics struct {
	Enabled *bool `yaml:"enabled"`
	// Token, when set, is required as a bearer token to read /metrics.
	Token string `yaml:"token"`
}

// On reports whether /metrics is served (default: yes).
func (m Metrics) On() bool { return m.Enabled == nil || *m.Enabled }

// TLS serves HTTPS directly (TLS 1.2 and newer) when both files are set.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// RateLimit bounds request rates; a zero rate is no limit.
type RateLimit struct {
	PerCredential Bucket `yaml:"per_credential"`
	PerAddress    Bucket `yaml:"per_address"`
	// LoginPerMinute limits login attempts per client address on every
	// door's login endpoint.
	LoginPerMinute float64 `yaml:"login_per_minute"`
	LoginBurst     int     `yaml:"login_burst"`
}

// Bucket is a token bucket: a sustained rate and a burst.
type Bucket struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// DBPool sizes a node's PostgreSQL connection pool (unused for SQLite).
//
//	db_pool:
//	  max_conns: 20
//	  connect_timeout: 5s
type DBPool struct {
	// MaxConns bounds this node's connections. Nodes × MaxConns must stay
	// below the server's max_connections.
	MaxConns int `yaml:"max_conns"`
	// ConnectTimeout bounds opening one connection.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
}

// SQLite tunes the embedded SQLite store.
type SQLite struct {
	// WALMaxBytes bounds the write-ahead log: past it the writer runs a
	// RESTART checkpoint between batches, so the -wal file stays near this
	// size under any sustained write load (0: 128 MiB).
	WALMaxBytes int64 `yaml:"wal_max_bytes"`
	// Synchronous is what an acknowledged write survives: normal (a crash
	// of the process) or full (also a power loss: one fsync per group
	// commit).
	Synchronous string `yaml:"synchronous"`
}

// Hashing bounds the password hashes computed at once: each holds 19 MiB
// for its whole run, so Slots × 19 MiB bounds their memory.
type Hashing struct {
	// Slots is how many run at once (0: one per core, at least 2).
	Slots int `yaml:"slots"`
	// Wait is how long a request waits for a slot before it is answered
	// 503 with Retry-After (0: 2s).
	Wait time.Duration `yaml:"wait"`
}

// Identity holds the identity rules an operator may choose; every door and
// the directory sync are held to them by the store.
type Identity struct {
	// SharedEmails lets several users hold the same e-mail address, for
	// directories whose people share mailboxes. Off (the default), an
	// address belongs to one user, whatever its type and the case of its
	// letters, and a write that would share one is refused.
	SharedEmails bool `yaml:"shared_emails"`
}

// Policy is the store's form of these rules.
func (i Identity) Policy() store.Policy { return store.Policy{SharedEmails: i.SharedEmails} }

// Debug holds diagnostics that are off unless asked for.
type Debug struct {
	// PprofListen serves net/http/pprof on its own address (keep it on
	// loopback: profiles reveal internals). Empty: off.
	PprofListen string `yaml:"pprof_listen"`
}

// Legacy configures the legacy vendor dialects.
type Legacy struct {
	Pterodactyl pterodactyl.Config `yaml:"pterodactyl"`
	UsersAPI    usersapi.Config    `yaml:"usersapi"`
	XPDev       xpdev.Config       `yaml:"xpdev"`
	XyOps       xyops.Config       `yaml:"xyops"`
	XStudio     xstudio.Config     `yaml:"xstudio"`
}

// Default returns the configuration used when nothing is set.
func Default() *Config {
	return &Config{
		Listen:       "127.0.0.1:8080",
		DB:           "./scimbridge.db",
		DBPool:       DBPool{MaxConns: 20, ConnectTimeout: 5 * time.Second},
		Log:          Log{Level: "info", Format: "text"},
		MaxBodyBytes: 1 << 20,
		SCIM: SCIM{
			DefaultPageSize: 100, MaxPageSize: 1000, PatchResponse: "auto", Compat: "entra",
			BulkMaxOperations: 1000, BulkMaxPayloadBytes: 1 << 20,
		},
		RateLimit:   RateLimit{LoginPerMinute: 10, LoginBurst: 10},
		MaxInFlight: 512,
		SQLite:      SQLite{Synchronous: "normal"},
	}
}

// Load reads the file at path (if not empty) over the defaults, then the
// environment. Every problem in the file is named by its key path and line,
// each on a line of its own that begins with the file's name.
func Load(path string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := Parse(data, c); err != nil {
			return nil, &fileError{path: path, err: err}
		}
	}
	if err := c.ApplyEnv(os.LookupEnv); err != nil {
		return nil, err
	}
	return c, nil
}

// fileError prefixes every line of err with the file's name.
type fileError struct {
	path string
	err  error
}

func (e *fileError) Error() string {
	lines := strings.Split(e.err.Error(), "\n")
	for i, l := range lines {
		lines[i] = e.path + ": " + l
	}
	return strings.Join(lines, "\n")
}

func (e *fileError) Unwrap() error { return e.err }

// Parse decodes YAML into c strictly. An unknown key is an error naming
// its full path and line, with the key probably meant; a value of the
// wrong type names its key, line and the type wanted. All of them are
// reported at once, in the order of the file.
func Parse(data []byte, c *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 { // an empty file is fine
		return nil
	}
	t := reflect.TypeFor[Config]()
	k := newKeyChecker(t)
	k.check(doc.Content[0], t, "")
	if len(k.problems) > 0 {
		sort.SliceStable(k.problems, func(i, j int) bool { return k.problems[i].line < k.problems[j].line })
		errs := make([]error, len(k.problems))
		for i, p := range k.problems {
			errs[i] = p
		}
		return errors.Join(errs...)
	}
	// The walk found nothing; the decoder, strict too, has the last word.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	for key, line := range k.lines {
		c.setOrigin(key, "line "+strconv.Itoa(line))
	}
	return nil
}

func (c *Config) setOrigin(key, origin string) {
	if c.origin == nil {
		c.origin = map[string]string{}
	}
	c.origin[key] = origin
}

// SetByFlag records that a command-line flag set key (a YAML key path), so
// that a bad value is reported as the flag's and not as the file's.
func (c *Config) SetByFlag(key, flag string) { c.setOrigin(key, flag) }

// where is " (line 3)", " (SCIMBRIDGE_DB)" or "": where key was set.
func (c *Config) where(key string) string {
	if o := c.origin[key]; o != "" {
		return " (" + o + ")"
	}
	return ""
}

// ApplyEnv overrides settings from SCIMBRIDGE_* variables.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	str := map[string]*string{
		"SCIMBRIDGE_LISTEN":        &c.Listen,
		"SCIMBRIDGE_DB":            &c.DB,
		"SCIMBRIDGE_SCIM_TOKEN":    &c.SCIM.Token,
		"SCIMBRIDGE_ADMIN_TOKEN":   &c.Admin.Token,
		"SCIMBRIDGE_METRICS_TOKEN": &c.Metrics.Token,
		"SCIMBRIDGE_SCIM_BASE_URL": &c.SCIM.BaseURL,
		"SCIMBRIDGE_LOG_LEVEL":     &c.Log.Level,
		"SCIMBRIDGE_LOG_FORMAT":    &c.Log.Format,
		// Secrets belong in the environment rather than the file.
		"SCIMBRIDGE_XSTUDIO_ADMIN_PASSWORD": &c.Legacy.XStudio.AdminPassword,
	}
	for name, dst := range str {
		if v, ok := lookup(name); ok {
			*dst = v
			c.setOrigin(envKeys[name], name)
		}
	}
	if v, ok := lookup("SCIMBRIDGE_MAX_BODY_BYTES"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("SCIMBRIDGE_MAX_BODY_BYTES: want an integer, got %q", v)
		}
		c.MaxBodyBytes = n
		c.setOrigin("max_body_bytes", "SCIMBRIDGE_MAX_BODY_BYTES")
	}
	return nil
}

// envKeys are the YAML keys the environment variables set.
var envKeys = map[string]string{
	"SCIMBRIDGE_LISTEN": "listen", "SCIMBRIDGE_DB": "db", "SCIMBRIDGE_SCIM_TOKEN": "scim.token",
	"SCIMBRIDGE_ADMIN_TOKEN": "admin.token", "SCIMBRIDGE_METRICS_TOKEN": "metrics.token",
	"SCIMBRIDGE_SCIM_BASE_URL": "scim.base_url", "SCIMBRIDGE_LOG_LEVEL": "log.level",
	"SCIMBRIDGE_LOG_FORMAT": "log.format", "SCIMBRIDGE_XSTUDIO_ADMIN_PASSWORD": "legacy.xstudio.admin_password",
}

// Validate checks every setting that serve would refuse, and names each
// bad one by its key and where it was set: "log.level (line 3): …".
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", key, c.where(key), fmt.Sprintf(format, args...)))
	}
	if err := checkAddress(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if c.Debug.PprofListen != "" {
		if err := checkAddress(c.Debug.PprofListen); err != nil {
			bad("debug.pprof_listen", "%v", err)
		}
	}
	if c.DB == "" {
		bad("db", "must not be empty")
	}
	if c.DBPool.MaxConns < 1 {
		bad("db_pool.max_conns", "must be at least 1")
	}
	if c.DBPool.ConnectTimeout <= 0 {
		bad("db_pool.connect_timeout", "must be a positive duration")
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if c.MaxBodyBytes < 1024 {
		bad("max_body_bytes", "must be at least 1024")
	}
	if c.SCIM.MaxPageSize < 1 {
		bad("scim.max_page_size", "must be at least 1")
	}
	if c.SCIM.DefaultPageSize < 1 || c.SCIM.DefaultPageSize > c.SCIM.MaxPageSize {
		bad("scim.default_page_size", "must be between 1 and scim.max_page_size")
	}
	switch c.SCIM.PatchResponse {
	case "auto", "resource", "no-content":
	default:
		bad("scim.patch_response", "%q is not one of auto, resource, no-content", c.SCIM.PatchResponse)
	}
	switch c.SCIM.Compat {
	case "entra", "strict":
	default:
		bad("scim.compat", "%q is not one of entra, strict", c.SCIM.Compat)
	}
	if c.SCIM.BulkMaxOperations < 1 {
		bad("scim.bulk_max_operations", "must be at least 1")
	}
	if c.SCIM.BulkMaxPayloadBytes < 1024 {
		bad("scim.bulk_max_payload_bytes", "must be at least 1024")
	}
	if c.SCIM.BaseURL != "" && !strings.HasPrefix(c.SCIM.BaseURL, "http://") && !strings.HasPrefix(c.SCIM.BaseURL, "https://") {
		bad("scim.base_url", "must be an http:// or https:// URL")
	}
	if c.SCIM.Token != "" && len(c.SCIM.Token) < 16 {
		bad("scim.token", "must be at least 16 characters")
	}
	if c.Admin.Token != "" && len(c.Admin.Token) < 16 {
		bad("admin.token", "must be at least 16 characters")
	}
	if c.SCIM.TokenFile != "" {
		if tok, err := c.SCIMToken(); err != nil {
			bad("scim.token_file", "%v", errors.Unwrap(err))
		} else if len(tok) < 16 {
			bad("scim.token_file", "the token in %s must be at least 16 characters", c.SCIM.TokenFile)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	tlsFilesThere := true
	for _, f := range []struct{ key, path string }{{"tls.cert_file", c.TLS.CertFile}, {"tls.key_file", c.TLS.KeyFile}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				bad(f.key, "%v", err)
				tlsFilesThere = false
			}
		}
	}
	if c.TLS.CertFile != "" && c.TLS.KeyFile != "" && tlsFilesThere {
		// serve loads them at start; a file that is there but is no
		// certificate, or a key that does not match, is refused now.
		if _, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile); err != nil {
			bad("tls.cert_file", "%v", err)
		}
	}
	for _, b := range []struct {
		key string
		b   Bucket
	}{{"rate_limit.per_credential", c.RateLimit.PerCredential}, {"rate_limit.per_address", c.RateLimit.PerAddress}} {
		if b.b.PerSecond < 0 || b.b.Burst < 0 {
			bad(b.key, "rates and bursts cannot be negative")
		}
	}
	if c.RateLimit.LoginPerMinute < 0 || c.RateLimit.LoginBurst < 0 {
		bad("rate_limit.login_per_minute", "cannot be negative")
	}
	if c.SQLite.WALMaxBytes != 0 && c.SQLite.WALMaxBytes < 1<<20 {
		bad("sqlite.wal_max_bytes", "must be at least 1 MiB (1048576)")
	}
	switch c.SQLite.Synchronous {
	case "", "normal", "full": // "": a Config not made by Default
	default:
		bad("sqlite.synchronous", "%q is not one of normal, full", c.SQLite.Synchronous)
	}
	if c.MaxInFlight < 0 {
		bad("max_in_flight", "cannot be negative")
	}
	if c.Hashing.Slots < 0 {
		bad("hashing.slots", "cannot be negative")
	}
	if c.Hashing.Wait < 0 {
		bad("hashing.wait", "cannot be negative")
	}
	for _, o := range []struct {
		key     string
		origins []string
	}{{"legacy.xstudio.allowed_origins", c.Legacy.XStudio.AllowedOrigins}, {"legacy.xyops.allowed_origins", c.Legacy.XyOps.AllowedOrigins}} {
		if _, err := legacyapi.NewOriginCheck(o.origins); err != nil {
			bad(o.key, "%v", err)
		}
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		bad("trusted_proxies", "%v", err)
	}
	if err := c.LDAP.Validate(); err != nil {
		// ldapsync names its keys (ldap.sources[0].url: …); add where
		// each was set.
		for _, line := range strings.Split(err.Error(), "\n") {
			if key, rest, ok := strings.Cut(line, ": "); ok && c.where(key) != "" {
				line = key + c.where(key) + ": " + rest
			}
			errs = append(errs, errors.New(line))
		}
	}
	return errors.Join(errs...)
}

// checkAddress checks a listen address as net.Listen will take it:
// host:port, the host optional, the port a number or a service name.
func checkAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port (like 127.0.0.1:8080, or :8080 for every address), got %q", addr)
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 0 || n > 65535 {
			return fmt.Errorf("port %d is not between 0 and 65535", n)
		}
		return nil
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("port %q is neither a number nor a known service name", port)
	}
	return nil
}

// TrustedProxyPrefixes parses TrustedProxies: each an address or a CIDR
// range.
func (c *Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// SCIMToken returns the configured static SCIM token, reading TokenFile
// when set.
func (c *Config) SCIMToken() (string, error) {
	if c.SCIM.TokenFile == "" {
		return c.SCIM.Token, nil
	}
	b, err := os.ReadFile(c.SCIM.TokenFile)
	if err != nil {
		return "", fmt.Errorf("scim.token_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
