// Package config loads ConnectBook's settings from flags and CONNECTBOOK_*
// environment variables, and validates them. There are no globals: Load
// returns a value that main passes on.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is everything "connectbook serve" can be told.
type Config struct {
	Addr            string
	DB              string // SQLite file path, or a postgres:// URL
	SessionStore    string // "" for the database; or a redis:// URL
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	ReauthWindow    time.Duration // how long a confirmed password allows sensitive actions
	MaxSessions     int           // live sessions per user
	// RotationInterval is how long a token is used before it is replaced
	// (0: never).
	RotationInterval    time.Duration
	DBSC                bool          // offer Device Bound Session Credentials
	BoundCookieLifetime time.Duration // how long a bound session's proof lasts
	StoreTimeout        time.Duration // how long a session store call may take
	SignUpsPerHour      int           // accounts created per client network and hour; 0: no limit
	SignInsPerAccount   int           // successful sign-ins to one account from one network per 10 minutes
	SignInsPerNetwork   int           // successful sign-ins from one network per 10 minutes
	TLSCert             string
	TLSKey              string
	TLSSelfSigned       bool
	BehindProxy         bool
	ShutdownDelay       time.Duration // how long to keep serving, not ready, after SIGTERM
	MetricsAddr         string        // where to serve Prometheus metrics; "" for nowhere
	LogFormat           string        // json or text
	LogLevel            string        // debug, info, warn or error
}

// Defaults.
const (
	DefaultAddr = "127.0.0.1:8080"
	DefaultDB   = "connectbook.db"
)

// Flag describes one setting, for help and the README.
type Flag struct {
	Name, Env, Default, Usage string
}

// Load parses args (the arguments after "serve"), with each flag's default
// taken from its environment variable when set. getenv is os.Getenv in
// production. Help goes to out.
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	fs, c, err := Flags(getenv)
	if err != nil {
		return Config{}, err
	}
	fs.SetOutput(out)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return *c, c.Validate()
}

// Flags returns the flag set of "connectbook serve", each flag's default
// taken from its environment variable when set, and the Config that
// parsing it fills in; the caller parses and then calls Validate. The
// error reports environment variables that do not parse.
func Flags(getenv func(string) string) (*flag.FlagSet, *Config, error) {
	c := new(Config)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var errs []error
	str := func(p *string, name, def, usage string) {
		env := envName(name)
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" ("+env+")")
	}
	dur := func(p *time.Duration, name string, def time.Duration, usage string) {
		env := envName(name)
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 30m or 12h", env, v))
			} else {
				def = d
			}
		}
		fs.DurationVar(p, name, def, usage+" ("+env+")")
	}
	boolean := func(p *bool, name string, def bool, usage string) {
		env := envName(name)
		if v := getenv(env); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not true or false", env, v))
			}
			def = b
		}
		fs.BoolVar(p, name, def, usage+" ("+env+")")
	}
	str(&c.Addr, "addr", DefaultAddr, "address to listen on")
	str(&c.DB, "db", DefaultDB, "SQLite database file (created on first start) or a postgres:// URL")
	str(&c.SessionStore, "session-store", "", "where sessions live: empty for the database, or a redis:// URL")
	dur(&c.IdleTimeout, "idle-timeout", 30*time.Minute, "end a session after this long without use")
	dur(&c.AbsoluteTimeout, "absolute-timeout", 12*time.Hour, "end a session this long after sign-in")
	dur(&c.ReauthWindow, "reauth-window", 10*time.Minute, "after a sign-in or a confirmed password, how long sensitive actions need no password")
	integer := func(p *int, name string, def int, usage string) {
		env := envName(name)
		if v := getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number", env, v))
			} else {
				def = n
			}
		}
		fs.IntVar(p, name, def, usage+" ("+env+")")
	}
	integer(&c.MaxSessions, "max-sessions", 50, "live sessions per user; a sign-in past it signs out the least recently used")
	dur(&c.RotationInterval, "rotation-interval", 10*time.Minute, "replace a session's token after this long in use; a replaced token that comes back ends the session (at least 5s; 0 turns rotation off)")
	boolean(&c.DBSC, "dbsc", true, "offer Device Bound Session Credentials: browsers that support them tie the session to a key that never leaves the device")
	dur(&c.StoreTimeout, "store-timeout", time.Second, "how long a session store call may take before the request fails with 503 (a stalled Redis or database)")
	integer(&c.SignUpsPerHour, "signups-per-hour", 10, "accounts one client network (IPv4 address, IPv6 /64) may create per hour; 0 for no limit")
	integer(&c.SignInsPerAccount, "signins-per-account", 40, "successful sign-ins to one account from one client network per 10 minutes before the next must wait")
	integer(&c.SignInsPerNetwork, "signins-per-network", 120, "successful sign-ins from one client network, to any accounts, per 10 minutes before the next must wait")
	dur(&c.BoundCookieLifetime, "bound-cookie-lifetime", 10*time.Minute, "with --dbsc, how long a device-bound session's proof lasts before the browser must sign a new one (at least 5s)")
	str(&c.TLSCert, "tls-cert", "", "TLS certificate file (PEM)")
	str(&c.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	boolean(&c.TLSSelfSigned, "tls-self-signed", false, "serve HTTPS with a certificate generated in memory, to try HTTPS locally")
	boolean(&c.BehindProxy, "behind-proxy", false, "trust X-Forwarded-For and X-Forwarded-Proto from a reverse proxy")
	dur(&c.ShutdownDelay, "shutdown-delay", 0, "after SIGTERM, how long to keep serving while /readyz answers 503, so that a load balancer moves traffic away before the listener closes")
	str(&c.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics on this address, apart from the app (a port alone, such as :9464, listens on loopback; name a host to listen elsewhere); empty for none")
	str(&c.LogFormat, "log-format", "text", "log format: text or json")
	str(&c.LogLevel, "log-level", "info", "the least severe log records written: debug, info (with one line per request), warn or error")
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return fs, c, nil
}

func envName(flagName string) string {
	return "CONNECTBOOK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// TLS reports whether the server terminates TLS itself.
func (c Config) TLS() bool { return c.TLSSelfSigned || c.TLSCert != "" }

// MetricsListenAddr is where the metrics listener listens: MetricsAddr,
// on loopback when it names a port only.
func (c Config) MetricsListenAddr() string {
	host, port, err := net.SplitHostPort(c.MetricsAddr)
	if err == nil && host == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return c.MetricsAddr
}

// Postgres reports whether the database is PostgreSQL.
func (c Config) Postgres() bool { return IsPostgresURL(c.DB) }

// IsPostgresURL reports whether s names a PostgreSQL database.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Validate checks the settings against each other.
func (c Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want host:port, such as 127.0.0.1:8080", c.Addr)
	}
	if c.DB == "" {
		return errors.New("--db is empty: give a SQLite file path or a postgres:// URL")
	}
	if c.SessionStore != "" && !strings.HasPrefix(c.SessionStore, "redis://") && !strings.HasPrefix(c.SessionStore, "rediss://") {
		return fmt.Errorf("--session-store %q: leave it empty to keep sessions in the database, or give a redis:// URL", RedactURL(c.SessionStore))
	}
	if c.IdleTimeout < time.Minute {
		return fmt.Errorf("--idle-timeout %v is too short: use at least 1m", c.IdleTimeout)
	}
	if c.AbsoluteTimeout < c.IdleTimeout {
		return fmt.Errorf("--absolute-timeout %v is shorter than --idle-timeout %v", c.AbsoluteTimeout, c.IdleTimeout)
	}
	if c.ReauthWindow < time.Minute || c.ReauthWindow > c.AbsoluteTimeout {
		return fmt.Errorf("--reauth-window %v: use at least 1m and at most --absolute-timeout", c.ReauthWindow)
	}
	if c.MaxSessions < 1 || c.MaxSessions > 10000 {
		return fmt.Errorf("--max-sessions %d: use 1 to 10000", c.MaxSessions)
	}
	if c.RotationInterval != 0 && (c.RotationInterval < 5*time.Second || c.RotationInterval > c.AbsoluteTimeout) {
		return fmt.Errorf("--rotation-interval %v: use at least 5s and at most --absolute-timeout, or 0 to turn rotation off", c.RotationInterval)
	}
	if c.StoreTimeout < 50*time.Millisecond || c.StoreTimeout > time.Minute {
		return fmt.Errorf("--store-timeout %v: use 50ms to 1m", c.StoreTimeout)
	}
	if c.SignInsPerAccount < 1 || c.SignInsPerAccount > 100000 || c.SignInsPerNetwork < 1 || c.SignInsPerNetwork > 1000000 {
		return fmt.Errorf("--signins-per-account %d, --signins-per-network %d: use at least 1", c.SignInsPerAccount, c.SignInsPerNetwork)
	}
	if c.SignUpsPerHour < 0 || c.SignUpsPerHour > 100000 {
		return fmt.Errorf("--signups-per-hour %d: use 0 (no limit) to 100000", c.SignUpsPerHour)
	}
	if c.BoundCookieLifetime < 5*time.Second || c.BoundCookieLifetime > c.AbsoluteTimeout {
		return fmt.Errorf("--bound-cookie-lifetime %v: use at least 5s and at most --absolute-timeout", c.BoundCookieLifetime)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both, or neither")
	}
	if c.TLSSelfSigned && c.TLSCert != "" {
		return errors.New("--tls-self-signed and --tls-cert exclude each other: choose one")
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay > 5*time.Minute {
		return fmt.Errorf("--shutdown-delay %v: use 0 to 5m", c.ShutdownDelay)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr %q: want host:port, such as 127.0.0.1:9464, or :9464 for loopback", c.MetricsAddr)
		}
		if _, port, _ := net.SplitHostPort(c.Addr); port != "0" && c.MetricsListenAddr() == c.Addr {
			return fmt.Errorf("--metrics-addr %q is --addr too: metrics need an address of their own", c.MetricsAddr)
		}
	}
	if _, ok := LogLevels[c.LogLevel]; !ok {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: use text or json", c.LogFormat)
	}
	if !c.TLS() && !c.BehindProxy && !isLoopback(host) {
		return fmt.Errorf("refusing to serve plain HTTP on %s: session cookies would cross the network unencrypted.\n"+
			"Do one of these:\n"+
			"  - serve HTTPS: --tls-cert FILE --tls-key FILE (or --tls-self-signed to try it out)\n"+
			"  - run behind a TLS-terminating reverse proxy and pass --behind-proxy\n"+
			"  - listen on loopback only: --addr 127.0.0.1:8080", c.Addr)
	}
	return nil
}

// RedactURL returns raw with the password of its user information, if any,
// replaced by "xxxxx", for messages and help: redis://:secret@host/0 becomes
// redis://:xxxxx@host/0. It hides the password of a URL that does not parse
// too, erring towards hiding more.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		return u.Redacted()
	}
	if err == nil && !strings.Contains(raw, "@") {
		return raw
	}
	// Either unparseable, or an "@" where url.Parse saw no user
	// information (a password holding "/" or "?" ends the host early).
	scheme, rest, ok := strings.Cut(raw, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		return raw
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if !hasPassword {
		return raw
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// isLoopback reports whether host is a loopback address or localhost. An
// empty host means every interface, which is not loopback.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// LogLevels are the --log-level values.
var LogLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
