package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/testdb"
)

// served is a "connectbook serve" running in the test.
type served struct {
	url    string // from the startup line, without a trailing slash
	output string // what serve printed up to and including the startup line
	done   chan int
	stderr *bytes.Buffer
}

var startupLine = regexp.MustCompile(`ConnectBook is serving (https?://127\.0\.0\.1:\d+)`)

// startServe runs serve with args until ctx ends.
func startServe(t *testing.T, ctx context.Context, args ...string) *served {
	t.Helper()
	pr, pw := io.Pipe()
	s := &served{done: make(chan int, 1), stderr: &bytes.Buffer{}}
	go func() {
		s.done <- run(ctx, append([]string{"serve"}, args...), nil, pw, s.stderr)
		pw.Close()
	}()
	r := bufio.NewReader(pr)
	var out strings.Builder
	for {
		line, err := r.ReadString('\n')
		out.WriteString(line)
		if err != nil {
			t.Fatalf("serve printed no startup line: %q, stderr %q", out.String(), s.stderr.String())
		}
		if m := startupLine.FindStringSubmatch(line); m != nil {
			s.url, s.output = m[1], out.String()
			break
		}
	}
	go io.Copy(io.Discard, r)
	return s
}

// wait waits for serve to exit and checks it exited cleanly.
func (s *served) wait(t *testing.T) {
	t.Helper()
	select {
	case code := <-s.done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, s.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeStartsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, "--addr", "127.0.0.1:0", "--db", testdb.SQLite(t))
	resp, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("ConnectBook")) {
		t.Fatalf("GET / = %d %s", resp.StatusCode, body)
	}
	cancel()
	s.wait(t)
}

// clearEnv unsets every CONNECTBOOK_ variable for t (defaults in help and
// the database the commands open come from them), then sets those in set.
func clearEnv(t *testing.T, set ...string) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CONNECTBOOK_") {
			t.Setenv(k, "")
		}
	}
	for i := 0; i+1 < len(set); i += 2 {
		t.Setenv(set[i], set[i+1])
	}
}

// A misuse of any command is one line saying what is wrong, then the
// command's usage, once, on standard error, and exit status 2; not the
// flag package's messages, nor every flag's default.
func TestMisuse(t *testing.T) {
	db := testdb.SQLite(t)
	clearEnv(t, "CONNECTBOOK_DB", db)
	for _, c := range []struct {
		args  []string
		want  string // in the error line
		usage string // in the usage after it
	}{
		{[]string{"frobnicate"}, `connectbook: unknown command "frobnicate"`, "Commands: serve, user, sessions"},
		{[]string{"--bogus"}, "connectbook serve: unknown flag --bogus", "connectbook serve [flags]"},
		{[]string{"-bogus"}, "connectbook serve: unknown flag --bogus", "connectbook serve [flags]"},
		{[]string{"serve", "--bogus"}, "connectbook serve: unknown flag --bogus", "connectbook serve [flags]"},
		{[]string{"serve", "--max-sessions", "many"}, `--max-sessions "many": want a whole number`, "connectbook serve [flags]"},
		{[]string{"serve", "--idle-timeout", "1"}, `--idle-timeout "1": want a duration`, "connectbook serve [flags]"},
		{[]string{"serve", "--idle-timeout"}, "--idle-timeout needs a value", "connectbook serve [flags]"},
		{[]string{"serve", "--dbsc=maybe"}, `--dbsc "maybe": want true or false`, "connectbook serve [flags]"},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`, "connectbook serve [flags]"},
		{[]string{"user"}, "connectbook user: missing subcommand: add, passwd or delete", "connectbook user add <username>"},
		{[]string{"user", "rename", "alice"}, `connectbook user: unknown subcommand "rename"`, "connectbook user add <username>"},
		{[]string{"user", "add", "alice", "--bogus"}, "connectbook user: unknown flag --bogus", "connectbook user delete <username> [--yes]"},
		{[]string{"user", "add"}, "connectbook user add: give exactly one username", "connectbook user add <username>"},
		{[]string{"sessions"}, "connectbook sessions: missing subcommand: list or revoke", "connectbook sessions list --user"},
		{[]string{"sessions", "--bogus"}, "connectbook sessions: unknown flag --bogus", "connectbook sessions list --user"},
		{[]string{"sessions", "end", "--user", "alice"}, `connectbook sessions: unknown subcommand "end"`, "connectbook sessions revoke"},
		{[]string{"sessions", "list"}, "connectbook sessions list: --user is required", "connectbook sessions list --user"},
		{[]string{"events", "--bogus"}, "connectbook events: unknown flag --bogus", "connectbook events [--user"},
		{[]string{"events", "--json=maybe"}, `--json "maybe": want true or false`, "connectbook events [--user"},
		{[]string{"events", "--limit", "0"}, "--limit takes 1 to 10000, not 0", "connectbook events [--user"},
		{[]string{"events", "--since", "yesterday"}, `--since "yesterday": want a duration such as 24h or 7d`, "connectbook events [--user"},
		{[]string{"events", "--since", "-1h"}, `--since "-1h": give a duration back from now`, "connectbook events [--user"},
		{[]string{"events", "--type", "logged_in"}, `--type: unknown event type "logged_in"; the types are csrf_rejected, login_failed,`, "connectbook events [--user"},
		{[]string{"events", "--session", "xyz!"}, `--session: "xyz!" is not a session id`, "connectbook events [--user"},
		{[]string{"events", "extra"}, `unexpected argument "extra"`, "connectbook events [--user"},
		{[]string{"probe", "--bogus"}, "connectbook probe: unknown flag --bogus", "connectbook probe --target URL"},
		{[]string{"probe", "--rate", "fast"}, `--rate "fast": want a number`, "connectbook probe --target URL"},
		{[]string{"probe"}, "connectbook probe: --target is required", "connectbook probe --target URL"},
		{[]string{"lab", "--bogus"}, "connectbook lab: unknown flag --bogus", "connectbook lab --variant V"},
		{[]string{"lab"}, "connectbook lab: --variant is required: seed1, seed2, adopt, stateless or laxcookie", "connectbook lab --variant V"},
		{[]string{"lab", "--variant", "nope"}, `unknown --variant "nope": use seed1, seed2, adopt, stateless or laxcookie`, "connectbook lab --variant V"},
		{[]string{"demo", "--bogus"}, "connectbook demo: unknown flag --bogus", "connectbook demo [--db FILE]"},
		{[]string{"demo", "extra"}, `unexpected argument "extra"`, "connectbook demo [--db FILE]"},
		{[]string{"version", "--bogus"}, "connectbook version: unknown flag --bogus", "connectbook version"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`, "connectbook version"},
	} {
		code, out, errs := cmd(t, "", c.args...)
		lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
		switch {
		case code != 2:
			t.Errorf("%q: exit %d, want 2; stderr %q", c.args, code, errs)
		case out != "":
			t.Errorf("%q: wrote %q to standard output", c.args, out)
		case !strings.Contains(lines[0], c.want):
			t.Errorf("%q: first line %q, want it to contain %q", c.args, lines[0], c.want)
		case len(lines) < 3 || lines[1] != "Usage:" || !strings.HasPrefix(lines[len(lines)-1], "Run \"connectbook help"):
			t.Errorf("%q: want one error line, then the usage:\n%s", c.args, errs)
		case strings.Count(errs, "Usage") != 1 || strings.Contains(errs, "Flags:") || strings.Contains(errs, "(default"):
			t.Errorf("%q: the usage is not shown once and short:\n%s", c.args, errs)
		case !strings.Contains(errs, c.usage):
			t.Errorf("%q: the usage lacks %q:\n%s", c.args, c.usage, errs)
		}
		for _, l := range lines[1:] {
			if strings.Contains(l, ": ") && strings.HasPrefix(l, "connectbook") {
				t.Errorf("%q: a second error line %q", c.args, l)
			}
		}
		// A misuse is caught before anything is opened, or created.
		if _, err := os.Stat(db); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%q: the database was opened: %v", c.args, err)
		}
	}
}

// Help lists every command with what it does; each command's help shows
// its usage and flags. Both go to standard output, with exit status 0.
func TestHelp(t *testing.T) {
	clearEnv(t)
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"-help"}, {"help", "help"}} {
		code, out, errs := cmd(t, "", args...)
		if code != 0 || errs != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errs)
		}
		for _, c := range commands {
			if !regexp.MustCompile(`\n  ` + c.name + ` +` + regexp.QuoteMeta(c.summary) + `\n`).MatchString(out) {
				t.Errorf("%q does not list %s with its summary:\n%s", args, c.name, out)
			}
		}
	}
	for _, c := range commands {
		if c.name == "help" {
			continue
		}
		code, want, errs := cmd(t, "", "help", c.name)
		if code != 0 || errs != "" || !strings.HasPrefix(want, "Usage:\n  connectbook ") {
			t.Errorf("help %s: exit %d, stderr %q, stdout:\n%s", c.name, code, errs, want)
		}
		if c.name != "version" && !strings.Contains(want, "\nFlags:\n  --") {
			t.Errorf("help %s lists no flags:\n%s", c.name, want)
		}
		for _, args := range [][]string{{c.name, "-h"}, {c.name, "--help"}, {c.name, "-help"}} {
			if code, out, errs := cmd(t, "", args...); code != 0 || errs != "" || out != want {
				t.Errorf("%q: exit %d, stderr %q; stdout differs from help %s:\n%s", args, code, errs, c.name, out)
			}
		}
	}
	for _, args := range [][]string{{"user", "add", "-h"}, {"help", "user", "add"}, {"user", "add", "alice", "-h"}, {"sessions", "list", "--help"}} {
		code, out, errs := cmd(t, "", args...)
		if code != 0 || errs != "" || !strings.Contains(out, "Usage:\n  connectbook "+args[0]) && !strings.Contains(out, "Usage:\n  connectbook "+args[1]) {
			t.Errorf("%q: exit %d, stderr %q, stdout:\n%s", args, code, errs, out)
		}
	}
	if code, _, errs := cmd(t, "", "help", "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: exit %d, stderr %q", code, errs)
	}
}

// Defaults shown in help come from the environment, and may be URLs with
// passwords: those are hidden.
func TestHelpHidesPasswords(t *testing.T) {
	clearEnv(t, "CONNECTBOOK_SESSION_STORE", "redis://:hunter2secret@redis.internal:6379/0",
		"CONNECTBOOK_DB", "postgres://app:hunter2secret@db.internal/connectbook")
	for _, c := range []string{"serve", "events", "user", "sessions", "demo"} {
		_, out, _ := cmd(t, "", "help", c)
		if strings.Contains(out, "hunter2secret") || !strings.Contains(out, "redis://:xxxxx@redis.internal:6379/0") {
			t.Errorf("help %s:\n%s", c, out)
		}
	}
}

func TestVersion(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH
	for _, c := range []struct {
		info *debug.BuildInfo
		want string
	}{
		{nil, "connectbook (devel), commit unknown, " + runtime.Version() + platform},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}},
			"connectbook (devel), commit unknown, go1.26.0" + platform},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}},
			"connectbook v1.2.3, commit 0123456789ab, go1.26.0" + platform},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: rev}}},
			"connectbook (devel), commit 0123456789ab-dirty, go1.26.0" + platform},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: ""},
			Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}},
			"connectbook (devel), commit unknown, go1.26.0" + platform},
	} {
		if got := versionLine(c.info); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	info, _ := debug.ReadBuildInfo()
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, errs := cmd(t, "", args...)
		if code != 0 || errs != "" || out != versionLine(info)+"\n" || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "0 sessions"}, {1, "1 session"}, {2, "2 sessions"}, {11, "11 sessions"}} {
		if got := plural(c.n, "session"); got != c.want {
			t.Errorf("plural(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// --metrics-addr with a port alone serves Prometheus metrics on loopback,
// apart from the app, whose own listener has no /metrics.
func TestServeMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, "--addr", "127.0.0.1:0", "--db", testdb.SQLite(t), "--metrics-addr", ":0")
	m := regexp.MustCompile(`Metrics at (http://127\.0\.0\.1:\d+/metrics)\n`).FindStringSubmatch(s.output)
	if m == nil {
		t.Fatalf("no metrics address on loopback in %q", s.output)
	}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get(s.url + "/login"); code != http.StatusOK {
		t.Fatalf("GET /login: %d", code)
	}
	code, body := get(m[1])
	for _, want := range []string{`connectbook_http_requests_total{code="200",route="GET /login"} 1`, "go_goroutines ",
		"process_cpu_seconds_total ", "connectbook_password_hashing_queue_depth 0", `go_build_info{`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("metrics: %d, no %q", code, want)
		}
	}
	if code, body := get(s.url + "/metrics"); code != http.StatusNotFound || strings.Contains(body, "connectbook_") {
		t.Errorf("the app's listener serves /metrics: %d", code)
	}
	cancel()
	s.wait(t)
}
