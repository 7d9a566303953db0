package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/testdb"
	"github.com/connectbook/connectbook/session"
)

// cmd runs connectbook with args and the given standard input.
func cmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// login starts a session for the user as the web app would.
func login(t *testing.T, dsn, user string) string {
	t.Helper()
	st, err := app.Open(context.Background(), app.Options{DB: dsn, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.DB.UserByUsername(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s, err := st.Sessions.Create(rec, httptest.NewRequest("POST", "/login", nil), session.Login{UserID: strconv.FormatInt(u.ID, 10), Epoch: u.Epoch})
	if err != nil {
		t.Fatal(err)
	}
	return s.Handle.String()
}

func TestAdminCommands(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			dsn := be.DSN(t)
			db := []string{"--db", dsn}
			code, out, errs := cmd(t, "correct horse battery\n", append([]string{"user", "add", "Alice"}, db...)...)
			if code != 0 || !strings.Contains(out, "Created user alice") {
				t.Fatalf("user add: %d %q %q", code, out, errs)
			}
			for _, tc := range []struct {
				stdin string
				args  []string
				want  string
			}{
				{"correct horse battery\n", []string{"user", "add", "alice"}, "taken"},
				{"short\n", []string{"user", "add", "bob"}, "at least 8 characters"},
				{"", []string{"user", "add", "bob"}, "no password"},
				{"x\n", []string{"user", "add", "b!"}, "Usernames are"},
				{"", []string{"user", "delete", "nobody", "--yes"}, `there is no user "nobody"`},
				{"", []string{"user", "passwd", "nobody"}, `there is no user "nobody"`},
				{"", []string{"user", "delete", "alice"}, "pass --yes"},
				{"x\n", []string{"user", "add", "alice", "--yes"}, "--yes goes with delete only"},
				{"", []string{"user", "rename", "alice"}, "unknown subcommand"},
				{"", []string{"user", "add"}, "exactly one username"},
				{"", []string{"sessions", "list"}, "--user is required"},
				{"", []string{"sessions", "revoke", "--user", "alice"}, "either --session ID or --all"},
				{"", []string{"sessions", "revoke", "--user", "alice", "--session", "xyz"}, "as shown by list"},
				{"", []string{"sessions", "revoke", "--user", "alice", "--session", strings.Repeat("0", 32)}, "no live session"},
				{"", []string{"events", "--limit", "0"}, "--limit"},
			} {
				code, _, errs := cmd(t, tc.stdin, append(tc.args, db...)...)
				if code != 2 || !strings.Contains(errs, tc.want) {
					t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
				}
			}

			one, two, three := login(t, dsn, "alice"), login(t, dsn, "alice"), login(t, dsn, "alice")
			code, out, _ = cmd(t, "", append([]string{"sessions", "list", "--user", "alice"}, db...)...)
			for _, id := range []string{one, two, three} {
				if code != 0 || !strings.Contains(out, id) {
					t.Fatalf("sessions list lacks %s: %d %q", id[:12], code, out)
				}
			}
			code, out, _ = cmd(t, "", append([]string{"sessions", "revoke", "--user", "alice", "--session", one}, db...)...)
			if code != 0 || !strings.Contains(out, "Ended session "+one[:12]) {
				t.Fatalf("sessions revoke: %d %q", code, out)
			}
			_, out, _ = cmd(t, "", append([]string{"sessions", "list", "--user", "alice"}, db...)...)
			if strings.Contains(out, one) || !strings.Contains(out, two) {
				t.Fatalf("after revoking one: %q", out)
			}
			code, out, _ = cmd(t, "", append([]string{"sessions", "revoke", "--user", "alice", "--all"}, db...)...)
			if code != 0 || !strings.Contains(out, "Ended 2 sessions") {
				t.Fatalf("sessions revoke --all: %d %q", code, out)
			}

			login(t, dsn, "alice")
			code, out, _ = cmd(t, "another good password\n", append([]string{"user", "passwd", "alice"}, db...)...)
			if code != 0 || !strings.Contains(out, "1 session ended") {
				t.Fatalf("user passwd: %d %q", code, out)
			}
			code, out, _ = cmd(t, "", append([]string{"events", "--user", "alice"}, db...)...)
			for _, kind := range []string{"password_changed", "session_revoked", "session_created", "user_created"} {
				if code != 0 || !strings.Contains(out, kind) {
					t.Fatalf("events lack %s: %q", kind, out)
				}
			}

			login(t, dsn, "alice")
			code, out, _ = cmd(t, "", append([]string{"user", "delete", "alice", "--yes"}, db...)...)
			if code != 0 || !strings.Contains(out, "Deleted user alice; 1 session ended") {
				t.Fatalf("user delete: %d %q", code, out)
			}
			code, _, errs = cmd(t, "", append([]string{"sessions", "list", "--user", "alice"}, db...)...)
			if code != 2 || !strings.Contains(errs, "no user") {
				t.Fatalf("list after delete: %d %q", code, errs)
			}
			// The deleted account's events stay, found by its id.
			code, out, errs = cmd(t, "", append([]string{"events", "--user-id", "1"}, db...)...)
			if code != 0 || !strings.Contains(out, "user_deleted") || !strings.Contains(out, "password_changed") {
				t.Fatalf("events --user-id after delete: %d %q %q", code, out, errs)
			}
		})
	}
}

// --all-users ends every session of every user, and sign-ins that were
// under way cannot keep theirs.
func TestRevokeAllUsers(t *testing.T) {
	dsn := testdb.SQLite(t)
	for _, u := range []string{"alice", "bob"} {
		if code, _, errs := cmd(t, "correct horse battery\n", "user", "add", u, "--db", dsn); code != 0 {
			t.Fatal(errs)
		}
	}
	login(t, dsn, "alice")
	login(t, dsn, "alice")
	login(t, dsn, "bob")
	// A sign-in that read alice's epoch before the revocation.
	st, err := app.Open(context.Background(), app.Options{DB: dsn, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before, err := st.DB.UserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cmd(t, "", "sessions", "revoke", "--all-users", "--user", "alice", "--db", dsn); code != 2 || !strings.Contains(errs, "--all-users goes alone") {
		t.Fatalf("--all-users with --user: exit %d, %q", code, errs)
	}
	code, out, errs := cmd(t, "", "sessions", "revoke", "--all-users", "--db", dsn)
	if code != 0 || !strings.Contains(out, "Ended 3 sessions of 2 users") {
		t.Fatalf("revoke --all-users: exit %d, %q %q", code, out, errs)
	}
	for _, u := range []string{"alice", "bob"} {
		if _, out, _ := cmd(t, "", "sessions", "list", "--user", u, "--db", dsn); !strings.Contains(out, "no live sessions") {
			t.Fatalf("%s after --all-users: %q", u, out)
		}
	}
	_, err = st.Sessions.Create(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil),
		session.Login{UserID: strconv.FormatInt(before.ID, 10), Epoch: before.Epoch})
	if !errors.Is(err, session.ErrStaleEpoch) {
		t.Fatalf("a sign-in under way during --all-users: %v, want ErrStaleEpoch", err)
	}
	if _, out, _ := cmd(t, "", "events", "--db", dsn); !strings.Contains(out, "sessions_revoked_all_users") {
		t.Fatalf("no event for --all-users: %q", out)
	}
}

func TestHelpForEachCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "  user       add an account, set its password, or delete it"},
		{[]string{"help", "user"}, "connectbook user passwd <username>"},
		{[]string{"help", "user"}, "-session-store"},
		{[]string{"help", "sessions"}, "connectbook sessions revoke --user <username> --all"},
		{[]string{"help", "sessions"}, "connectbook sessions revoke --all-users"},
		{[]string{"help", "serve"}, "-reauth-window"},
		{[]string{"help", "serve"}, "-max-sessions"},
		{[]string{"help", "sessions"}, "-db"},
		{[]string{"help", "events"}, "-limit"},
		{[]string{"help", "serve"}, "-tls-self-signed"},
		{[]string{"help"}, "  probe      run session attacks"},
		{[]string{"help", "probe"}, "-idle-wait"},
		{[]string{"help", "probe"}, "Exit status: 0 nothing found (or nothing as severe as --fail-on), 1 findings"},
		{[]string{"help", "lab"}, "stateless"},
		{[]string{"help", "lab"}, "-variant"},
		{[]string{"user", "add", "-h"}, "-db"},
	} {
		code, out, errs := cmd(t, "", c.args...)
		if code != 0 || !strings.Contains(out+errs, c.want) {
			t.Errorf("%q: exit %d, output lacks %q:\n%s%s", c.args, code, c.want, out, errs)
		}
	}
}

func TestServeRefusesPlainHTTPOnTheNetwork(t *testing.T) {
	code, _, errs := cmd(t, "", "serve", "--addr", "0.0.0.0:0", "--db", testdb.SQLite(t))
	if code != 2 || !strings.Contains(errs, "refusing to serve plain HTTP") || !strings.Contains(errs, "--tls-cert") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// --tls-self-signed serves HTTPS with HSTS, and shuts down cleanly.
func TestServeSelfSignedTLS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, "--addr", "127.0.0.1:0", "--tls-self-signed", "--db", testdb.SQLite(t))
	if !strings.HasPrefix(s.url, "https://") || !strings.Contains(s.output, "self-signed certificate") {
		t.Fatalf("startup output %q", s.output)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" || resp.TLS == nil {
		t.Fatalf("GET /: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	if len(resp.TLS.PeerCertificates) == 0 || resp.TLS.PeerCertificates[0].Subject.CommonName != "localhost" {
		t.Fatal("unexpected certificate")
	}
	cancel()
	s.wait(t)
}

// Commands run against another session store than serve's are refused,
// rather than report ending sessions they cannot see.
func TestSessionStoreMismatchRefused(t *testing.T) {
	redisURL, dsn := redisAndAlice(t)
	st, err := app.Open(context.Background(), app.Options{DB: dsn, SessionStore: redisURL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RecordStore(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, _, errs := cmd(t, "", "sessions", "list", "--user", "alice", "--db", dsn)
	if code != 1 || !strings.Contains(errs, "keeps sessions in Redis") {
		t.Fatalf("without --session-store: exit %d, %q", code, errs)
	}
	// Another database number on the same server is another store.
	other, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	other.Path = "/15"
	if other.String() == redisURL {
		other.Path = "/14"
	}
	code, out, errs := cmd(t, "", "sessions", "list", "--user", "alice", "--db", dsn, "--session-store", other.String())
	if code != 1 || !strings.Contains(errs, "not the session store serve uses") {
		t.Fatalf("with another Redis database: exit %d, %q %q", code, out, errs)
	}
	code, out, errs = cmd(t, "", "sessions", "list", "--user", "alice", "--db", dsn, "--session-store", redisURL)
	if code != 0 {
		t.Fatalf("with --session-store: exit %d, %q", code, errs)
	}
	if !strings.Contains(out, "no live sessions") {
		t.Fatalf("output %q", out)
	}
}

// A request in flight when the signal comes is finished, not cut off: a
// login (one argon2id computation, tens of milliseconds) started just
// before shutdown still signs the user in.
func TestShutdownFinishesRequests(t *testing.T) {
	dsn := testdb.SQLite(t)
	if code, _, errs := cmd(t, "correct horse battery\n", "user", "add", "alice", "--db", dsn); code != 0 {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, "--addr", "127.0.0.1:0", "--db", dsn)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	result := make(chan int, 1)
	go func() {
		resp, err := c.PostForm(s.url+"/login", map[string][]string{"username": {"alice"}, "password": {"correct horse battery"}})
		if err != nil {
			result <- 0
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	time.Sleep(20 * time.Millisecond) // the login is hashing
	cancel()
	if got := <-result; got != http.StatusSeeOther {
		t.Fatalf("login in flight at shutdown: status %d, want 303", got)
	}
	s.wait(t)
	// serve recorded where sessions live, for the other commands to check.
	code, _, errs := cmd(t, "", "sessions", "list", "--user", "alice", "--db", dsn, "--session-store", "redis://127.0.0.1:1/0")
	if code != 1 || !strings.Contains(errs, "keeps sessions in this database") {
		t.Fatalf("sessions list against another store: exit %d, %q", code, errs)
	}
}

// A serve that fails to start records nothing: the admin commands go on
// accepting the store the running instance uses, and refusing the other.
func TestFailedServeRecordsNoStore(t *testing.T) {
	redisURL, dsn := redisAndAlice(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, "--addr", "127.0.0.1:0", "--db", dsn) // sessions in the database
	taken := strings.TrimPrefix(s.url, "http://")
	// A second serve, pointed at Redis, cannot listen on the same address.
	code, _, errs := cmd(t, "", "serve", "--addr", taken, "--db", dsn, "--session-store", redisURL)
	if code != 1 || !strings.Contains(errs, "address already in use") {
		t.Fatalf("second serve: exit %d, %q", code, errs)
	}
	if code, _, errs := cmd(t, "", "sessions", "list", "--user", "alice", "--db", dsn); code != 0 {
		t.Fatalf("the running instance's store refused after a failed serve: exit %d, %q", code, errs)
	}
	if code, _, errs := cmd(t, "", "sessions", "list", "--user", "alice", "--db", dsn, "--session-store", redisURL); code != 1 || !strings.Contains(errs, "keeps sessions in this database") {
		t.Fatalf("the failed serve's store accepted: exit %d, %q", code, errs)
	}
	cancel()
	s.wait(t)
}

// redisAndAlice returns the test Redis's URL and a new database with the
// user alice, or skips t when there is no test Redis.
func redisAndAlice(t *testing.T) (redisURL, dsn string) {
	t.Helper()
	redisURL = os.Getenv("CONNECTBOOK_TEST_REDIS")
	if redisURL == "" {
		t.Skip("CONNECTBOOK_TEST_REDIS is not set; set it to a redis:// URL to run this test")
	}
	dsn = testdb.SQLite(t)
	if code, _, errs := cmd(t, "correct horse battery\n", "user", "add", "alice", "--db", dsn); code != 0 {
		t.Fatal(errs)
	}
	return redisURL, dsn
}

// Counts are words a person would write: "1 session of 1 user".
func TestCountsInWords(t *testing.T) {
	dsn := testdb.SQLite(t)
	if code, _, errs := cmd(t, "correct horse battery\n", "user", "add", "alice", "--db", dsn); code != 0 {
		t.Fatal(errs)
	}
	for _, c := range []struct {
		logins int
		args   []string
		want   string
	}{
		{1, []string{"sessions", "revoke", "--all-users"}, "Ended 1 session of 1 user; everyone must sign in again."},
		{1, []string{"sessions", "revoke", "--user", "alice", "--all"}, "Ended 1 session of alice."},
		{0, []string{"sessions", "revoke", "--user", "alice", "--all"}, "Ended 0 sessions of alice."},
		{2, []string{"sessions", "revoke", "--user", "alice", "--all"}, "Ended 2 sessions of alice."},
		{1, []string{"user", "passwd", "alice"}, "Password of alice changed; 1 session ended."},
		{0, []string{"user", "passwd", "alice"}, "Password of alice changed; 0 sessions ended."},
	} {
		for range c.logins {
			login(t, dsn, "alice")
		}
		code, out, errs := cmd(t, "another good password\n", append(c.args, "--db", dsn)...)
		if code != 0 || out != c.want+"\n" {
			t.Errorf("%q: exit %d, %q, %q; want %q", c.args, code, out, errs, c.want)
		}
	}
}
