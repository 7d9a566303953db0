package config

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Addr: "127.0.0.1:8080", DB: "connectbook.db", IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour,
		ReauthWindow: 10 * time.Minute, MaxSessions: 50, LogFormat: "text", LogLevel: "info", ShutdownDelay: 0,
		RotationInterval: 10 * time.Minute, DBSC: true, BoundCookieLifetime: 10 * time.Minute,
		StoreTimeout: time.Second, SignUpsPerHour: 10, SignInsPerAccount: 40, SignInsPerNetwork: 120}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}

func TestRotationAndBindingSettings(t *testing.T) {
	e := env(map[string]string{"CONNECTBOOK_ROTATION_INTERVAL": "5s", "CONNECTBOOK_DBSC": "false", "CONNECTBOOK_BOUND_COOKIE_LIFETIME": "7s"})
	c, err := Load(nil, e, io.Discard)
	if err != nil || c.RotationInterval != 5*time.Second || c.DBSC || c.BoundCookieLifetime != 7*time.Second {
		t.Fatalf("from the environment: %+v, %v", c, err)
	}
	c, err = Load([]string{"--rotation-interval", "0", "--dbsc=true", "--bound-cookie-lifetime", "1m"}, e, io.Discard)
	if err != nil || c.RotationInterval != 0 || !c.DBSC || c.BoundCookieLifetime != time.Minute {
		t.Fatalf("flags over the environment: %+v, %v", c, err)
	}
	for _, args := range [][]string{
		{"--rotation-interval", "4s"}, {"--rotation-interval", "13h"}, {"--rotation-interval", "-1s"},
		{"--bound-cookie-lifetime", "4s"}, {"--bound-cookie-lifetime", "0"}, {"--bound-cookie-lifetime", "24h"},
	} {
		if _, err := Load(args, env(nil), io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if _, err := Load(nil, env(map[string]string{"CONNECTBOOK_DBSC": "maybe"}), io.Discard); err == nil {
		t.Error("CONNECTBOOK_DBSC=maybe accepted")
	}
}

func TestEnvAndFlags(t *testing.T) {
	e := env(map[string]string{
		"CONNECTBOOK_ADDR": "127.0.0.1:9000", "CONNECTBOOK_IDLE_TIMEOUT": "10m", "CONNECTBOOK_BEHIND_PROXY": "true",
		"CONNECTBOOK_LOG_FORMAT": "json", "CONNECTBOOK_SESSION_STORE": "redis://127.0.0.1:6379/0",
	})
	c, err := Load([]string{"--addr", "0.0.0.0:9001", "--absolute-timeout", "2h"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "0.0.0.0:9001" || c.IdleTimeout != 10*time.Minute || c.AbsoluteTimeout != 2*time.Hour ||
		!c.BehindProxy || c.LogFormat != "json" || c.SessionStore != "redis://127.0.0.1:6379/0" {
		t.Fatalf("got %+v", c)
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--addr", "0.0.0.0:8080"}, nil, "refusing to serve plain HTTP"},
		{[]string{"--addr", ":8080"}, nil, "refusing to serve plain HTTP"},
		{[]string{"--addr", "192.0.2.1:8080"}, nil, "--behind-proxy"},
		{[]string{"--addr", "nonsense"}, nil, "want host:port"},
		{[]string{"--tls-cert", "c.pem"}, nil, "go together"},
		{[]string{"--tls-self-signed", "--tls-cert", "c", "--tls-key", "k"}, nil, "exclude each other"},
		{[]string{"--idle-timeout", "10s"}, nil, "too short"},
		{[]string{"--idle-timeout", "2h", "--absolute-timeout", "1h"}, nil, "shorter than"},
		{[]string{"--log-format", "xml"}, nil, "text or json"},
		{[]string{"--log-level", "loud"}, nil, "debug, info, warn or error"},
		{[]string{"--shutdown-delay", "6m"}, nil, "0 to 5m"},
		{[]string{"--metrics-addr", "9464"}, nil, "want host:port"},
		{[]string{"--metrics-addr", "127.0.0.1:8080"}, nil, "address of their own"},
		{[]string{"--addr", "127.0.0.1:9464", "--metrics-addr", ":9464"}, nil, "address of their own"},
		{[]string{"--session-store", "memcached://x"}, nil, "redis://"},
		{[]string{"--db", ""}, nil, "--db is empty"},
		{nil, map[string]string{"CONNECTBOOK_IDLE_TIMEOUT": "soon"}, "not a duration"},
		{nil, map[string]string{"CONNECTBOOK_BEHIND_PROXY": "maybe"}, "not true or false"},
		{[]string{"extra"}, nil, "unexpected argument"},
	} {
		_, err := Load(tc.args, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q, %v) = %v, want an error containing %q", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestNonLoopbackAllowedWithTLSOrProxy(t *testing.T) {
	for _, args := range [][]string{
		{"--addr", "0.0.0.0:8443", "--tls-self-signed"},
		{"--addr", "0.0.0.0:8443", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
		{"--addr", "0.0.0.0:8080", "--behind-proxy"},
		{"--addr", "[::1]:8080"},
		{"--addr", "localhost:8080"},
	} {
		if _, err := Load(args, env(nil), io.Discard); err != nil {
			t.Errorf("Load(%q) = %v", args, err)
		}
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := Load([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, name := range []string{"-addr", "CONNECTBOOK_DB", "-session-store", "-tls-self-signed", "-behind-proxy", "-log-format", "-idle-timeout", "-absolute-timeout"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("help lacks %s", name)
		}
	}
}

func TestStoreTimeoutAndSignUpLimit(t *testing.T) {
	c, err := Load([]string{"--store-timeout", "250ms", "--signups-per-hour", "0"}, env(nil), io.Discard)
	if err != nil || c.StoreTimeout != 250*time.Millisecond || c.SignUpsPerHour != 0 {
		t.Fatalf("%+v, %v", c, err)
	}
	c, err = Load(nil, env(map[string]string{"CONNECTBOOK_STORE_TIMEOUT": "2s", "CONNECTBOOK_SIGNUPS_PER_HOUR": "3"}), io.Discard)
	if err != nil || c.StoreTimeout != 2*time.Second || c.SignUpsPerHour != 3 {
		t.Fatalf("from the environment: %+v, %v", c, err)
	}
	for _, args := range [][]string{{"--store-timeout", "0"}, {"--store-timeout", "2m"}, {"--signups-per-hour", "-1"}} {
		if _, err := Load(args, env(nil), io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestSignInLimits(t *testing.T) {
	c, err := Load([]string{"--signins-per-network", "5000"}, env(map[string]string{"CONNECTBOOK_SIGNINS_PER_ACCOUNT": "7"}), io.Discard)
	if err != nil || c.SignInsPerAccount != 7 || c.SignInsPerNetwork != 5000 {
		t.Fatalf("%+v, %v", c, err)
	}
	for _, args := range [][]string{{"--signins-per-account", "0"}, {"--signins-per-network", "-3"}} {
		if _, err := Load(args, env(nil), io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"connectbook.db", "connectbook.db"},
		{"/data/a@b.db", "/data/a@b.db"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:secret@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"rediss://user:secret@redis.example.com:6380", "rediss://user:xxxxx@redis.example.com:6380"},
		{"postgres://root@127.0.0.1:5432/test?sslmode=disable", "postgres://root@127.0.0.1:5432/test?sslmode=disable"},
		{"postgres://app:secret@db/cb", "postgres://app:xxxxx@db/cb"},
		{"redis://u:secret@h:port:x/0", "redis://u:xxxxx@h:port:x/0"}, // does not parse
		{"redis://u:se/cret@host/0", "redis://u:xxxxx@host/0"},        // parses, with the host "u:se"
		{"redis://u:12/secret@host/0", "redis://u:xxxxx@host/0"},
		{"redis://u:se?cret@host", "redis://u:xxxxx@host"},
		{"redis://u:secret@[::1", "redis://u:xxxxx@[::1"},
		{"redis://user@host/0", "redis://user@host/0"},
	} {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Errors about the session store's URL do not show its password.
func TestSessionStoreErrorHidesPassword(t *testing.T) {
	_, err := Load([]string{"--session-store", "memcached://u:secret@cache:11211"}, env(nil), io.Discard)
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "memcached://u:xxxxx@cache:11211") {
		t.Fatalf("got %v", err)
	}
}

// Flags is the flag set Load parses: the caller parses and validates.
func TestFlags(t *testing.T) {
	fs, c, err := Flags(env(map[string]string{"CONNECTBOOK_MAX_SESSIONS": "7"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--addr", "127.0.0.1:9000"}); err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.MaxSessions != 7 || c.Validate() != nil {
		t.Fatalf("got %+v, %v", c, c.Validate())
	}
	if _, _, err := Flags(env(map[string]string{"CONNECTBOOK_MAX_SESSIONS": "many"})); err == nil || !strings.Contains(err.Error(), "CONNECTBOOK_MAX_SESSIONS") {
		t.Fatalf("a bad variable: %v", err)
	}
}

// Metrics listen on loopback unless an address says otherwise.
func TestMetricsAddr(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{
		{":9464", "127.0.0.1:9464"},
		{":0", "127.0.0.1:0"},
		{"127.0.0.1:9464", "127.0.0.1:9464"},
		{"[::1]:9464", "[::1]:9464"},
		{"0.0.0.0:9464", "0.0.0.0:9464"},
		{"10.1.2.3:9464", "10.1.2.3:9464"},
	} {
		c, err := Load([]string{"--metrics-addr", tc.flag}, env(nil), io.Discard)
		if err != nil {
			t.Fatalf("--metrics-addr %s: %v", tc.flag, err)
		}
		if got := c.MetricsListenAddr(); got != tc.want {
			t.Errorf("--metrics-addr %s listens on %s, want %s", tc.flag, got, tc.want)
		}
	}
	c, err := Load(nil, env(map[string]string{"CONNECTBOOK_METRICS_ADDR": ":9100"}), io.Discard)
	if err != nil || c.MetricsListenAddr() != "127.0.0.1:9100" {
		t.Errorf("CONNECTBOOK_METRICS_ADDR=:9100: %q, %v", c.MetricsListenAddr(), err)
	}
	if c, _ := Load(nil, env(nil), io.Discard); c.MetricsAddr != "" {
		t.Errorf("metrics are served by default, on %q", c.MetricsAddr)
	}
}
