package cli

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The server keeps the sessions it read from SQLite in memory for as long
// as the database is unchanged; a session revoked by the command-line tool,
// another process, is refused at the next request all the same. Each step
// is checked on a page the server has just served twice (its session
// cached), and for every way the tool ends sessions: one by its ID, all of
// a user's, a new password.
func TestRevokedWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	db := filepath.Join(t.TempDir(), "connectbook.db")
	if code, _, errs := cmd(t, "correct horse battery\n", "user", "add", "alice", "--db", db); code != 0 {
		t.Fatal(errs)
	}
	base, _, lines, _ := startServeProcess(t, "--addr 127.0.0.1:0 --db "+db)
	go func() {
		for lines.Scan() {
		}
	}()

	signIn := func(password string) *http.Client {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.PostForm(base+"/login", url.Values{"username": {"alice"}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") == "/login" {
			t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		return c
	}
	// profile reports whether c is served the signed-in page.
	profile := func(c *http.Client) bool {
		t.Helper()
		resp, err := c.Get(base + "/profile")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	served := func(c *http.Client, who string) {
		t.Helper()
		for range 2 {
			if !profile(c) {
				t.Fatalf("%s: not signed in", who)
			}
		}
	}
	admin := func(stdin string, args ...string) {
		t.Helper()
		tool := exec.Command(os.Args[0], "-test.run=^$")
		tool.Env = append(os.Environ(), serveProcessEnv+"="+strings.Join(append(args, "--db", db), " "))
		tool.Stdin = strings.NewReader(stdin)
		if out, err := tool.CombinedOutput(); err != nil {
			t.Fatalf("connectbook %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	// One session by its ID: the other goes on.
	first, second := signIn("correct horse battery"), signIn("correct horse battery")
	served(first, "first")
	served(second, "second")
	code, listed, errs := cmd(t, "", "sessions", "list", "--user", "alice", "--db", db)
	if code != 0 {
		t.Fatal(errs)
	}
	ids := handleColumn(listed)
	if len(ids) != 2 {
		t.Fatalf("sessions list: %q", listed)
	}
	admin("", "sessions", "revoke", "--user", "alice", "--session", ids[0])
	left := 0
	for _, c := range []*http.Client{first, second} {
		if profile(c) {
			left++
		}
	}
	if left != 1 {
		t.Fatalf("after revoking one of two sessions, %d still served", left)
	}

	// All of them.
	third := signIn("correct horse battery")
	served(third, "third")
	admin("", "sessions", "revoke", "--user", "alice", "--all")
	for i, c := range []*http.Client{first, second, third} {
		if profile(c) {
			t.Fatalf("session %d served after sessions revoke --all", i+1)
		}
	}

	// A new password ends every session.
	fourth := signIn("correct horse battery")
	served(fourth, "fourth")
	admin("another good password\n", "user", "passwd", "alice")
	if profile(fourth) {
		t.Fatal("a session served after user passwd")
	}
	served(signIn("another good password"), "after the new password")
}

// handleColumn returns the session IDs that sessions list shows, the first
// column of its rows.
func handleColumn(listed string) []string {
	var ids []string
	for _, line := range strings.Split(listed, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && len(f[0]) == 32 && strings.Trim(f[0], "0123456789abcdef") == "" {
			ids = append(ids, f[0])
		}
	}
	return ids
}
