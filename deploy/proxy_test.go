//go:build linux

// Package deploy_test runs ConnectBook as it is deployed: the shipped
// nginx configuration (nginx/connectbook.conf) in front of two instances
// of the binary the Dockerfile builds, sharing a PostgreSQL database and a
// Redis session store; and it checks what can be checked of the Dockerfile
// without Docker.
package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// shutdownDelay is the instances' --shutdown-delay.
const shutdownDelay = 1500 * time.Millisecond

// Two instances behind the shipped nginx configuration, on a fresh
// PostgreSQL database and a Redis session store, started at the same
// moment. Each subtest checks one property of running several instances
// behind a proxy.
func TestBehindNginx(t *testing.T) {
	nginx, haveNginx := lookPath("nginx")
	wrk, haveWrk := lookPath("wrk")
	pg, rd := os.Getenv(postgresEnv), os.Getenv(redisEnv)
	var missing []string
	if !haveNginx {
		missing = append(missing, "nginx (not on the PATH or in /usr/sbin; apt-get install nginx)")
	}
	if pg == "" {
		missing = append(missing, postgresEnv+" (a postgres:// URL)")
	}
	if rd == "" {
		missing = append(missing, redisEnv+" (a redis:// URL)")
	}
	if len(missing) > 0 {
		t.Skipf("this test needs %s", strings.Join(missing, ", "))
	}
	if testing.Short() {
		t.Skip("starts nginx, two servers and a load test; not with -short")
	}

	c := &cluster{bin: binary(t), dir: t.TempDir()}
	c.dsn, c.db = freshPostgres(t, pg)
	c.redis = claimRedis(t, rd)
	c.serveArgs = []string{"--db", c.dsn, "--session-store", c.redis, "--behind-proxy", "--log-format", "json",
		"--signups-per-hour", "0", "--shutdown-delay", shutdownDelay.String()}
	free := freePorts(t, 5)
	ports := nginxPorts{redirect: free[0], https: free[1], plain: free[2], a: free[3], b: free[4]}
	c.a = c.newInstance("instance A", ports.a)
	c.b = c.newInstance("instance B", ports.b)
	c.startNginx(t, nginx, ports)
	startInstances(t, c.a, c.b)

	if !t.Run("InstancesStartTogether", c.testStartTogether) {
		return // nothing else can work
	}
	t.Run("SignUpAndSignInThroughNginx", c.testSignUpSignIn)
	t.Run("RequestsLandOnBoth", c.testBalanced)
	t.Run("SignOutHonouredByTheOther", c.testSignOut)
	t.Run("ThrottlingIsShared", c.testThrottling)
	t.Run("ClientIPsAreReal", c.testClientIPs)
	t.Run("HSTSFollowsForwardedProto", c.testHSTS)
	t.Run("SIGTERMUnderWrk", func(t *testing.T) {
		if !haveWrk {
			t.Skip("this test needs wrk (not on the PATH or in /usr/sbin; apt-get install wrk)")
		}
		c.testSIGTERM(t, wrk)
	})
	t.Run("KillMidLoad", c.testKill)
}

// Both instances, started at the same moment on an empty database, come
// up: the migrations are serialised between them, applied once each, and
// neither logs an error.
func (c *cluster) testStartTogether(t *testing.T) {
	for _, i := range []*instance{c.a, c.b} {
		waitReady(t, i)
	}
	for _, i := range []*instance{c.a, c.b} {
		if i.exited() {
			t.Errorf("%s exited: %v\n%s", i.name, i.err, i.logs.String())
		}
		if errs := i.logs.lines(`"level":"ERROR"`); len(errs) > 0 {
			t.Errorf("%s logged errors while starting: %s", i.name, errs)
		}
	}
	files, err := filepath.Glob(filepath.Join("..", "internal", "data", "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	var applied int
	if err := c.db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != len(files) {
		t.Errorf("%d migrations recorded, want %d", applied, len(files))
	}
}

// Signing up and signing in work through nginx over HTTPS (HTTP/2, as
// browsers speak it), also for a browser that sends Origin but no
// Sec-Fetch-Site (the cross-origin check then compares Origin with the
// Host nginx passes on), and the session cookie is a __Host- cookie; a
// cross-site form is still refused.
func (c *cluster) testSignUpSignIn(t *testing.T) {
	b := newBrowser("127.0.0.1", c.roots)
	p, err := b.signUp(c.https, "alice")
	if err != nil || !signedUp(p) {
		t.Fatalf("sign-up through nginx: %v, %v", p, err)
	}
	if p.proto != "HTTP/2.0" {
		t.Errorf("nginx answered over %s, want HTTP/2.0", p.proto)
	}
	var set string
	for _, h := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(h, sessionCookie+"=") {
			set = h
		}
	}
	for _, attr := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(set, attr) {
			t.Errorf("session cookie %q lacks %s", set, attr)
		}
	}
	if strings.Contains(set, "Domain=") {
		t.Errorf("session cookie %q names a domain", set)
	}
	if p, err := b.get(c.https, "/profile"); err != nil || p.status != http.StatusOK || !strings.Contains(p.body, "alice") {
		t.Errorf("profile after sign-up: %v, %v", p, err)
	}

	other := newBrowser("127.0.0.1", c.roots)
	origin := http.Header{"Origin": {c.https}}
	form := url.Values{"username": {"alice"}, "password": {password("alice")}}
	p, err = other.do(context.Background(), http.MethodPost, c.https, "/login", form, origin)
	if err != nil || p.status != http.StatusSeeOther || p.location() != "/" {
		t.Fatalf("sign-in through nginx with Origin %s: %v, %v", c.https, p, err)
	}
	if p, err := other.get(c.https, "/profile"); err != nil || p.status != http.StatusOK || !strings.Contains(p.body, "alice") {
		t.Errorf("profile after sign-in: %v, %v", p, err)
	}

	crossSite := http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}
	p, err = newBrowser("127.0.0.1", c.roots).do(context.Background(), http.MethodPost, c.https, "/login", form, crossSite)
	if err != nil || p.status != http.StatusForbidden {
		t.Errorf("cross-site sign-in through nginx: %v, %v; want 403", p, err)
	}
}

// nginx sends requests to both instances.
func (c *cluster) testBalanced(t *testing.T) {
	const n = 20
	b := newBrowser("127.0.0.1", c.roots)
	var ids []string
	for range n {
		p, err := b.get(c.https, "/robots.txt")
		if err != nil || p.status != http.StatusOK {
			t.Fatalf("GET /robots.txt through nginx: %v, %v", p, err)
		}
		ids = append(ids, p.header.Get("X-Request-ID"))
	}
	// Which instance logged each request's ID (the lines come through
	// pipes, so wait for them).
	var got [2]int
	for range 100 {
		got = [2]int{}
		for _, id := range ids {
			for k, i := range []*instance{c.a, c.b} {
				if len(i.logs.lines(`"stream":"access"`, `"request_id":"`+id+`"`)) > 0 {
					got[k]++
				}
			}
		}
		if got[0]+got[1] >= n {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got[0]+got[1] != n || got[0] < n/4 || got[1] < n/4 {
		t.Errorf("%d requests through nginx: %d logged by A, %d by B; want each to get a fair share", n, got[0], got[1])
	}
}

// Signing out on one instance ends the session on the other: the cookie,
// replayed there, gets the signed-out answer. Both ways round.
func (c *cluster) testSignOut(t *testing.T) {
	for _, tc := range []struct {
		user      string
		out, then *instance
	}{
		{"signout_ab", c.a, c.b},
		{"signout_ba", c.b, c.a},
	} {
		b := newBrowser("127.0.0.1", c.roots)
		if p, err := b.signUp(c.https, tc.user); err != nil || !signedUp(p) {
			t.Fatalf("sign-up: %v, %v", p, err)
		}
		copied := b.cookies[sessionCookie]
		for _, i := range []*instance{c.a, c.b} {
			if p, err := b.get(i.url(), "/profile"); err != nil || p.status != http.StatusOK {
				t.Fatalf("%s: the session does not work on %s: %v, %v", tc.user, i.name, p, err)
			}
		}
		if err := b.signOut(tc.out.url()); err != nil {
			t.Fatalf("%s: signing out on %s: %v", tc.user, tc.out.name, err)
		}
		replay := newBrowser("127.0.0.1", c.roots)
		replay.ua, replay.cookies[sessionCookie] = b.ua, copied
		p, err := replay.get(tc.then.url(), "/profile")
		if err != nil || p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/login") {
			t.Errorf("%s: signed out on %s, the cookie on %s got %v, %v; want a redirect to /login", tc.user, tc.out.name, tc.then.name, p, err)
		}
	}
}

// Failed sign-ins are throttled by the database both instances use: spread
// over the two instances, they are refused at the same attempt as on one.
func (c *cluster) testThrottling(t *testing.T) {
	for _, u := range []string{"throttle_one", "throttle_two"} {
		if p, err := newBrowser("127.0.0.1", c.roots).signUp(c.https, u); err != nil || !signedUp(p) {
			t.Fatalf("sign-up %s: %v, %v", u, p, err)
		}
	}
	// Each from a client network of its own, as nginx would say.
	one := c.failuresUntilThrottled(t, "throttle_one", "198.51.100.1", c.a)
	both := c.failuresUntilThrottled(t, "throttle_two", "198.51.100.2", c.a, c.b)
	if one != both {
		t.Errorf("wrong passwords on one instance were refused at attempt %d, spread over both at attempt %d", one, both)
	}
}

// failuresUntilThrottled sends wrong passwords for user from client ip,
// to the instances in turn, and returns the number of the attempt that was
// refused as throttled.
func (c *cluster) failuresUntilThrottled(t *testing.T, user, ip string, to ...*instance) int {
	t.Helper()
	const most = 30
	b := newBrowser("127.0.0.1", c.roots)
	form := url.Values{"username": {user}, "password": {"not the password at all"}}
	for n := 1; n <= most; n++ {
		i := to[(n-1)%len(to)]
		p, err := b.do(context.Background(), http.MethodPost, i.url(), "/login", form, http.Header{"X-Forwarded-For": {ip}})
		if err != nil {
			t.Fatal(err)
		}
		switch p.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			return n
		default:
			t.Fatalf("wrong password %d for %s on %s: %v", n, user, i.name, p)
		}
	}
	t.Fatalf("%d wrong passwords for %s were never throttled", most, user)
	return 0
}

// event is a line of `connectbook events --json`.
type event struct {
	Type     string `json:"type"`
	Username string `json:"username"`
	ClientIP string `json:"client_ip"`
}

// events returns the security events of one type, as the events command
// reports them.
func (c *cluster) events(t *testing.T, kind string) []event {
	t.Helper()
	cmd := exec.Command(c.bin, "events", "--json", "--type", kind, "--limit", "1000", "--db", c.dsn, "--session-store", c.redis)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("connectbook events: %v: %s", err, stderr.String())
	}
	var evs []event
	for line := range strings.Lines(string(out)) {
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("connectbook events: %v in %q", err, line)
		}
		evs = append(evs, e)
	}
	return evs
}

// The security log records the address the client connected to nginx
// from, not one the client wrote into X-Forwarded-For.
func (c *cluster) testClientIPs(t *testing.T) {
	const spoofed = "203.0.113.9"
	want := map[string]string{}
	for n := 2; n <= 4; n++ {
		from := fmt.Sprintf("127.0.0.%d", n)
		user := fmt.Sprintf("from_127_0_0_%d", n)
		want[user] = from
		b := newBrowser(from, c.roots)
		pw := password(user)
		form := url.Values{"username": {user}, "password": {pw}, "password_confirm": {pw}}
		p, err := b.do(context.Background(), http.MethodPost, c.https, "/signup", form, http.Header{"X-Forwarded-For": {spoofed}})
		if err != nil || !signedUp(p) {
			t.Fatalf("sign-up from %s: %v, %v", from, p, err)
		}
	}
	got := map[string]string{}
	for _, e := range c.events(t, "user_created") {
		got[e.Username] = e.ClientIP
	}
	for user, from := range want {
		if got[user] != from {
			t.Errorf("%s signed up from %s (saying X-Forwarded-For: %s); the event says client_ip %q", user, from, spoofed, got[user])
		}
	}
}

// HSTS is sent over nginx's HTTPS listener only: not over plain HTTP, even
// when the client itself says X-Forwarded-Proto: https. The shipped
// plain-HTTP server redirects to HTTPS.
func (c *cluster) testHSTS(t *testing.T) {
	const hsts = "Strict-Transport-Security"
	b := newBrowser("127.0.0.1", c.roots)
	for _, tc := range []struct {
		name, base string
		header     http.Header
		want       []string
	}{
		{"HTTPS", c.https, nil, []string{"max-age=63072000; includeSubDomains"}},
		{"plain HTTP", c.plain, nil, nil},
		{"plain HTTP saying X-Forwarded-Proto: https", c.plain, http.Header{"X-Forwarded-Proto": {"https"}}, nil},
	} {
		p, err := b.do(context.Background(), http.MethodGet, tc.base, "/", nil, tc.header)
		if err != nil || p.status != http.StatusOK {
			t.Fatalf("%s: GET /: %v, %v", tc.name, p, err)
		}
		if got := p.header.Values(hsts); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %s %q, want %q", tc.name, hsts, got, tc.want)
		}
	}
	p, err := b.get(c.redirect, "/u/alice?tab=posts")
	if err != nil || p.status != http.StatusMovedPermanently || p.location() != "https://127.0.0.1/u/alice?tab=posts" {
		t.Errorf("the shipped plain-HTTP server: %v, %v; want a redirect to the same page over HTTPS", p, err)
	}
}

// writer is a client signing up one account after another through nginx.
type writer struct {
	b    *browser
	name string
	mu   sync.Mutex
	done []write
}

// write is one sign-up and its answer.
type write struct {
	user   string
	sent   time.Time
	ok     bool
	status int // 0: no answer
	answer string
}

func (w *writer) run(ctx context.Context, base string) {
	for n := 0; ctx.Err() == nil; n++ {
		user := fmt.Sprintf("%s_%d", w.name, n)
		pw := password(user)
		form := url.Values{"username": {user}, "password": {pw}, "password_confirm": {pw}}
		sent := time.Now()
		// Not ctx: a request under way is let finish.
		p, err := w.b.do(context.Background(), http.MethodPost, base, "/signup", form, nil)
		wr := write{user: user, sent: sent, ok: err == nil && signedUp(p), status: p.status}
		if err != nil {
			wr.answer = err.Error()
		} else {
			wr.answer = p.String()
		}
		w.mu.Lock()
		w.done = append(w.done, wr)
		w.mu.Unlock()
		delete(w.b.cookies, sessionCookie) // the next sign-up starts signed out
	}
}

// users returns the usernames in the database that start with prefix.
func (c *cluster) users(t *testing.T, prefix string) map[string]bool {
	t.Helper()
	rows, err := c.db.Query(`SELECT username FROM users WHERE username LIKE $1`, prefix+"%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			t.Fatal(err)
		}
		got[u] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// restart starts an instance again on its address, after it exited, and
// has nginx forget that it failed (by reloading: new workers, which know
// nothing of failures; an old worker would leave it out for fail_timeout).
func (c *cluster) restart(t *testing.T, old *instance) *instance {
	t.Helper()
	i := c.newInstance(old.name, old.port)
	startInstances(t, i)
	waitReady(t, i)
	c.reloadNginx(t)
	// Until a request reaches it through nginx: each on a connection of
	// its own, which a new worker takes once the reload is done.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		p, err := newBrowser("127.0.0.1", c.roots).get(c.https, "/robots.txt")
		if err != nil || p.status != http.StatusOK {
			t.Fatalf("GET /robots.txt through nginx after restarting %s: %v, %v", i.name, p, err)
		}
		if i.logs.accessLines() > 0 { // a new process: every line is new
			return i
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nginx sends no requests to %s after it restarted", i.name)
	return nil
}

// Killing an instance (SIGKILL) while clients sign up through nginx loses
// no sign-up that was answered as done, and fails none: those it was
// handling go to the other instance, where the only failure allowed is a
// sign-up that the killed instance had saved finding its username taken;
// every one sent after it died succeeds.
func (c *cluster) testKill(t *testing.T) {
	if c.a.exited() {
		c.a = c.restart(t, c.a)
	}
	if c.b.exited() {
		c.b = c.restart(t, c.b)
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var writers []*writer
	for n := range 3 {
		// Clients from networks of their own: the instances' password
		// hashing gives each network a share of its queue.
		w := &writer{b: newBrowser(fmt.Sprintf("127.0.0.%d", 20+n), c.roots), name: fmt.Sprintf("kill%d", n)}
		writers = append(writers, w)
		wg.Go(func() { w.run(ctx, c.https) })
	}
	time.Sleep(time.Second)
	beforeKill := c.b.logs.accessLines()
	if err := c.b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.b.done
	dead := time.Now()
	time.Sleep(1500 * time.Millisecond)
	stop()
	wg.Wait()

	if beforeKill == 0 {
		t.Errorf("instance B served no request before it was killed")
	}
	inDB := c.users(t, "kill")
	var ok, after, taken int
	for _, w := range writers {
		for _, wr := range w.done {
			if wr.ok {
				ok++
				if !inDB[wr.user] {
					t.Errorf("sign-up %s was answered as done but is not in the database", wr.user)
				}
			}
			if wr.sent.After(dead) {
				after++
				if !wr.ok {
					t.Errorf("sign-up %s, sent after instance B died, failed: %s", wr.user, wr.answer)
				}
			} else if !wr.ok {
				if wr.status != http.StatusUnprocessableEntity || !inDB[wr.user] {
					t.Errorf("sign-up %s, under way when instance B was killed, failed: %s", wr.user, wr.answer)
				}
				taken++
			}
		}
	}
	if after < len(writers) {
		t.Errorf("only %d sign-ups sent after instance B died", after)
	}
	t.Logf("%d sign-ups done (%d sent after the kill); %d under way at the kill found their username taken", ok, after, taken)
}

// wrkResult is the line the wrk script prints when done.
type wrkResult struct {
	Connect, Read, Write, Timeout, Status int // wrk's socket and status errors
	Statuses                              map[string]int
	PostsSent                             int
}

// SIGTERM to one instance during a wrk run that posts through nginx: no
// request fails (no socket error, every answer a redirect to the feed or
// the plain robots.txt), the instance exits 0 after its --shutdown-delay,
// and the database holds exactly as many posts as were answered as done.
func (c *cluster) testSIGTERM(t *testing.T, wrk string) {
	const (
		threads, conns = 2, 8
		run            = 6 * time.Second
		signalAt       = 1500 * time.Millisecond
		posters        = 160 // 20 posts each at most: the posting limit
	)
	users, err := c.posters(t, posters)
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(c.dir, "posters.tsv")
	if err := os.WriteFile(list, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "posts.lua"))
	if err != nil {
		t.Fatal(err)
	}
	// Posting stops 1 to 2 s before the run ends (the script reads whole
	// seconds), well after instance A closed its listener.
	stopPosting := time.Now().Add(run - time.Second).Unix()
	cmd := exec.Command(wrk, "-t", fmt.Sprint(threads), "-c", fmt.Sprint(conns), "-d", run.String(), "--timeout", "20s",
		"-s", script, c.https+"/", "--", list, fmt.Sprint(threads), userAgent, fmt.Sprint(stopPosting))
	dieWithTest(cmd, syscall.SIGKILL)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(signalAt)
	signalled := time.Now()
	if err := c.a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exitErr := c.a.wait(t, shutdownDelay+15*time.Second)
	exited := time.Now()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wrk: %v\n%s\n%s", err, out.String(), stderr.String())
	}
	res := parseWrk(t, out.String())
	t.Logf("wrk: %+v", res)

	if exitErr != nil {
		t.Errorf("instance A exited with %v after SIGTERM:\n%s", exitErr, c.a.logs.String())
	}
	if said := c.a.out.String(); !strings.Contains(said, "ConnectBook stopped") {
		t.Errorf("instance A did not say it stopped: %q", said)
	}
	if c.a.logs.accessAfter(t, signalled) == 0 {
		t.Errorf("instance A answered no request after SIGTERM: the signal came at no load")
	}
	if c.b.logs.accessAfter(t, exited) == 0 {
		t.Errorf("instance B answered no request after instance A exited: the run ended too soon")
	}
	if res.Connect+res.Read+res.Write+res.Timeout > 0 {
		t.Errorf("wrk saw socket errors: connect %d, read %d, write %d, timeout %d", res.Connect, res.Read, res.Write, res.Timeout)
	}
	for status, n := range res.Statuses {
		if status != "303" && status != "200" {
			t.Errorf("%d answers with status %s", n, status)
		}
	}
	if res.Status > 0 {
		t.Errorf("wrk counted %d answers that were not 2xx or 3xx", res.Status)
	}
	var posts int
	if err := c.db.QueryRow(`SELECT count(*) FROM posts WHERE body LIKE 'wrk %'`).Scan(&posts); err != nil {
		t.Fatal(err)
	}
	if done := res.Statuses["303"]; posts != done || done == 0 {
		t.Errorf("%d posts answered as done, %d in the database (%d sent)", done, posts, res.PostsSent)
	}
	for _, line := range upstreamErrors(readFile(t, filepath.Join(c.dir, "nginx", "error.log"))) {
		t.Logf("nginx: %s", line)
	}
}

// posters signs up n users through nginx and returns them for the wrk
// script: a line each, "cookie<TAB>form token".
func (c *cluster) posters(t *testing.T, n int) (string, error) {
	var (
		mu    sync.Mutex
		lines []string
		errs  []error
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			b := newBrowser(fmt.Sprintf("127.0.0.%d", 10+w), c.roots)
			for {
				k := next.Add(1)
				if k > int64(n) {
					return
				}
				user := fmt.Sprintf("poster_%d", k)
				p, err := b.signUp(c.https, user)
				if err == nil && !signedUp(p) {
					err = fmt.Errorf("sign-up %s: %v", user, p)
				}
				var token string
				if err == nil {
					token, err = b.csrfToken(c.https, "/")
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					lines = append(lines, fmt.Sprintf("%s=%s\t%s\n", sessionCookie, b.cookies[sessionCookie], url.QueryEscape(token)))
				}
				mu.Unlock()
				clear(b.cookies)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return "", fmt.Errorf("%d of %d sign-ups failed, first: %v", len(errs), n, errs[0])
	}
	return strings.Join(lines, ""), nil
}

// parseWrk reads the script's summary line:
// "result connect=0 read=0 write=0 timeout=0 status=0 posts=N 303=N 200=N".
func parseWrk(t *testing.T, out string) wrkResult {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "result" {
			continue
		}
		r := wrkResult{Statuses: map[string]int{}}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			var n int
			fmt.Sscan(v, &n)
			switch k {
			case "connect":
				r.Connect = n
			case "read":
				r.Read = n
			case "write":
				r.Write = n
			case "timeout":
				r.Timeout = n
			case "status":
				r.Status = n
			case "posts":
				r.PostsSent = n
			default:
				r.Statuses[k] = n
			}
		}
		return r
	}
	t.Fatalf("no result line in wrk's output:\n%s", out)
	return wrkResult{}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// upstreamErrors sums up nginx's error log: each kind of error with an
// instance, and how many times it came.
func upstreamErrors(log string) []string {
	re := regexp.MustCompile(`\[(?:error|warn)\] \d+#\d+: (?:\*\d+ )?(.*?), client: .*upstream: "([^"]+)"`)
	counts := map[string]int{}
	var kinds []string
	for line := range strings.Lines(log) {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		k := m[1] + " (" + m[2] + ")"
		if counts[k] == 0 {
			kinds = append(kinds, k)
		}
		counts[k]++
	}
	var out []string
	for _, k := range kinds {
		out = append(out, fmt.Sprintf("%d× %s", counts[k], k))
	}
	return out
}
