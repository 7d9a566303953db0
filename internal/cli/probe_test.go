package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/lab"
	"github.com/connectbook/connectbook/internal/testdb"
)

// connectBook serves the app over TLS with cheap password hashing and one
// user, alice.
func connectBook(t *testing.T) string {
	t.Helper()
	st, err := app.Open(context.Background(), app.Options{DB: testdb.SQLite(t), TLS: true, Logger: slog.New(slog.DiscardHandler),
		Hasher: auth.NewHasherLimits(auth.Params{Memory: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, 8, 3*time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Auth.SignUp(context.Background(), "alice", "correct horse battery", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(st.Handler())
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return srv.URL
}

func labServer(t *testing.T, variant string) string {
	t.Helper()
	h, err := lab.New(variant)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestProbeCommand(t *testing.T) {
	seed1 := labServer(t, "seed1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	t.Run("--fail-on sets the severity that fails", func(t *testing.T) {
		lax := labServer(t, "laxcookie") // cookie-flags (medium) and cookie-scope (low) only
		for _, tc := range []struct {
			failOn string
			want   int
		}{{"low", 1}, {"medium", 1}, {"high", 0}, {"critical", 2}} {
			code, out, errOut := cmd(t, "password123\n", "probe", "--target", lax, "--user", "alice", "--rate", "2000", "--fail-on", tc.failOn)
			if code != tc.want {
				t.Errorf("--fail-on %s: exit %d, want %d\n%s%s", tc.failOn, code, tc.want, out, errOut)
			}
			if tc.want == 0 && !strings.Contains(out, "cookie-flags") {
				t.Errorf("--fail-on %s: the report lost its findings:\n%s", tc.failOn, out)
			}
		}
	})
	t.Run("findings as JSON, password from standard input", func(t *testing.T) {
		code, out, errOut := cmd(t, "password123\n", "probe", "--target", seed1, "--user", "alice", "--rate", "2000", "--json")
		if code != 1 {
			t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
		}
		var rep struct {
			Target   string `json:"target"`
			Findings []struct {
				ID, Severity, Title, Fix string
				Evidence                 []struct{ Request, Response string }
			} `json:"findings"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		var got []string
		for _, f := range rep.Findings {
			got = append(got, f.ID)
			if f.Severity == "" || f.Title == "" || f.Fix == "" || len(f.Evidence) == 0 {
				t.Errorf("incomplete finding %+v", f)
			}
		}
		if rep.Target != seed1 || !slices.Contains(got, "fixation-adopted-id") || !slices.Contains(got, "weak-token") {
			t.Fatalf("report for %s with %v", rep.Target, got)
		}
		if strings.Contains(out, "password123") {
			t.Fatal("the password is in the report")
		}
	})

	t.Run("a second account finds fixation by a signed-in session", func(t *testing.T) {
		t.Setenv("CONNECTBOOK_PROBE_PASSWORD2", "securepassword")
		code, out, errOut := cmd(t, "", "probe", "--target", seed1, "--user", "alice", "--password", "password123",
			"--user2", "bob", "--rate", "2000", "--json")
		if code != 1 || !strings.Contains(out, `"fixation-authenticated-id"`) || strings.Contains(out, "securepassword") {
			t.Fatalf("exit %d, want 1 with fixation-authenticated-id and no password in the report\n%s\n%s", code, out, errOut)
		}
	})

	t.Run("nothing found on ConnectBook", func(t *testing.T) {
		code, out, errOut := cmd(t, "", "probe", "--target", connectBook(t), "--user", "alice", "--password", "correct horse battery",
			"--insecure", "--rate", "2000")
		if code != 0 || !strings.Contains(out, "No findings") {
			t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unreachable", []string{"--target", closed, "--user", "alice", "--password", "x"}, "target unreachable"},
		{"wrong password", []string{"--target", seed1, "--user", "alice", "--password", "wrong"}, "login failed"},
		{"no target", []string{"--user", "alice", "--password", "x"}, "--target is required"},
		{"no password", []string{"--target", seed1, "--user", "alice"}, "no password"},
		{"bad field", []string{"--target", seed1, "--field", "novalue"}, "name=value"},
		{"self-signed certificate", []string{"--target", strings.Replace(connectBook(t), "127.0.0.1", "localhost", 1), "--user", "alice", "--password", "x"}, "--insecure"},
		{"second account without its password", []string{"--target", seed1, "--user", "alice", "--password", "x", "--user2", "bob"}, "--password2"},
		{"second account the same", []string{"--target", seed1, "--user", "alice", "--password", "x", "--user2", "alice", "--password2", "x"}, "another account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cmd(t, "", append([]string{"probe", "--rate", "2000"}, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

func TestLabCommand(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8081", "192.0.2.1:8081", "example.com:8081", ":8081", "[::]:8081"} {
		code, _, errOut := cmd(t, "", "lab", "--variant", "seed1", "--addr", addr)
		if code != 2 || !strings.Contains(errOut, "loopback") {
			t.Errorf("lab --addr %s: exit %d, stderr %q; want a refusal", addr, code, errOut)
		}
	}
	if code, _, errOut := cmd(t, "", "lab", "--variant", "nope"); code != 2 || !strings.Contains(errOut, "seed1") {
		t.Errorf("unknown variant: exit %d, stderr %q", code, errOut)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"lab", "--variant", "seed2", "--addr", "127.0.0.1:0"}, nil, io.Discard, pw)
		pw.Close()
	}()
	var banner strings.Builder
	serving := regexp.MustCompile(`Serving (http://127\.0\.0\.1:\d+)`)
	buf := make([]byte, 4096)
	var url string
	for url == "" {
		n, err := pr.Read(buf)
		banner.Write(buf[:n])
		if err != nil {
			t.Fatalf("lab printed %q then %v", banner.String(), err)
		}
		if m := serving.FindStringSubmatch(banner.String()); m != nil {
			url = m[1]
		}
	}
	go io.Copy(io.Discard, pr)
	if !strings.Contains(banner.String(), "DELIBERATELY VULNERABLE") {
		t.Errorf("no warning banner in %q", banner.String())
	}
	resp, err := http.Get(url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Set-Cookie"), "session_id=") {
		t.Fatalf("GET /login = %d, Set-Cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("lab exited %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lab did not stop")
	}
}

func TestProbeReportFiles(t *testing.T) {
	seed1 := labServer(t, "seed1")
	dir := t.TempDir()
	html, sarif := dir+"/report.html", dir+"/report.sarif"
	code, out, errOut := cmd(t, "", "probe", "--target", seed1, "--user", "alice", "--password", "password123", "--rate", "2000",
		"--html", html, "--sarif", sarif)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	if !strings.Contains(out, "findings (") || !strings.Contains(out, "Checks, in the order they ran") {
		t.Errorf("text report:\n%s", out)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "<h1>Session probe of "+seed1) || strings.Contains(string(page), "password123") {
		t.Errorf("HTML report:\n%s", page)
	}
	var log struct {
		Version string
		Runs    []struct {
			Results []struct{ RuleID string }
		}
	}
	b, err := os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &log); err != nil || log.Version != "2.1.0" || len(log.Runs[0].Results) == 0 {
		t.Fatalf("SARIF %v: %s", err, b)
	}

	// Written when the probe cannot run too, saying so.
	code, _, errOut = cmd(t, "", "probe", "--target", seed1, "--user", "alice", "--password", "wrong", "--rate", "2000",
		"--html", html, "--sarif", sarif)
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr %s", code, errOut)
	}
	b, _ = os.ReadFile(sarif)
	page, _ = os.ReadFile(html)
	if !strings.Contains(string(b), `"executionSuccessful": false`) || !strings.Contains(string(page), "The probe could not run. Login failed") {
		t.Errorf("after a failed login:\n%s\n%s", b, page)
	}

	for _, flag := range []string{"--html", "--sarif"} {
		code, _, errOut := cmd(t, "", "probe", "--target", seed1, "--user", "alice", "--password", "x", flag, "-")
		if code != 2 || !strings.Contains(errOut, flag+" needs a file name") {
			t.Errorf("%s -: exit %d, stderr %q", flag, code, errOut)
		}
	}
	code, _, errOut = cmd(t, "", "probe", "--target", seed1, "--user", "alice", "--password", "password123", "--rate", "2000",
		"--sarif", dir+"/no/such/dir/report.sarif")
	if code != 2 || !strings.Contains(errOut, "writing the report") {
		t.Errorf("unwritable file: exit %d, stderr %q", code, errOut)
	}
}

// syncBuffer is a buffer the countdown's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeTicker is a clock the test moves, and the ticks it sends.
type fakeTicker struct {
	now   time.Time
	ticks chan time.Time
	mu    sync.Mutex
	every time.Duration
}

func newFakePrinter(tty bool) (*progressPrinter, *syncBuffer, *fakeTicker) {
	var out syncBuffer
	clock := &fakeTicker{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC), ticks: make(chan time.Time)}
	p := newProgressPrinter(&out, tty)
	p.now = func() time.Time { return clock.now }
	p.ticker = func(d time.Duration) (<-chan time.Time, func()) {
		clock.mu.Lock()
		clock.every = d
		clock.mu.Unlock()
		return clock.ticks, func() {}
	}
	return p, &out, clock
}

// advance moves the clock on by d and ticks once.
func (c *fakeTicker) advance(d time.Duration) {
	c.now = c.now.Add(d)
	c.ticks <- c.now
}

func TestIdleWaitCountdown(t *testing.T) {
	t.Run("terminal", func(t *testing.T) {
		p, out, clock := newFakePrinter(true)
		p.print("logging in as \"alice\"")
		p.print("logging in, then leaving the session unused for 5m0s")
		clock.advance(time.Second)
		clock.advance(2 * time.Minute)
		p.print("found no-idle-timeout")
		want := "· logging in as \"alice\"\n" +
			"· logging in, then leaving the session unused for 5m0s\n" +
			"\r\033[K  idle wait: 5m0s left" +
			"\r\033[K  idle wait: 4m59s left" +
			"\r\033[K  idle wait: 2m59s left" +
			"\r\033[K" +
			"· found no-idle-timeout\n"
		if got := out.String(); got != want {
			t.Errorf("got %q\nwant %q", got, want)
		}
		if clock.every != time.Second {
			t.Errorf("ticks every %v, want 1s", clock.every)
		}
	})
	t.Run("log", func(t *testing.T) {
		p, out, clock := newFakePrinter(false)
		p.print("logging in as \"alice\"")
		p.print("logging in, then leaving the session unused for 3m0s")
		clock.advance(time.Minute)
		clock.advance(time.Minute)
		clock.advance(time.Minute)
		p.stop()
		p.stop() // twice is fine
		want := "· logging in, then leaving the session unused for 3m0s\n" +
			"  idle wait: 3m0s left\n" +
			"  idle wait: 2m0s left\n" +
			"  idle wait: 1m0s left\n"
		if got := out.String(); got != want {
			t.Errorf("got %q\nwant %q", got, want)
		}
		if clock.every != time.Minute {
			t.Errorf("ticks every %v, want 1m", clock.every)
		}
	})
	t.Run("short wait in a log", func(t *testing.T) {
		p, out, _ := newFakePrinter(false)
		p.print("logging in, then leaving the session unused for 20s")
		p.stop()
		want := "· logging in, then leaving the session unused for 20s\n" +
			"  idle wait: 20s left\n"
		if got := out.String(); got != want {
			t.Errorf("got %q\nwant %q", got, want)
		}
	})
}
