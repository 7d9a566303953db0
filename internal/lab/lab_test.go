package lab

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// extraPaths are each variant's own GET pages.
var extraPaths = map[string][]string{
	"seed1": {"/set_session/x", "/congrats"},
	"seed2": {"/set_congrats", "/congratulations"},
}

type result struct {
	status  int
	body    string
	loc     string
	cookies []string // raw Set-Cookie lines
	header  http.Header
}

// cookie returns the value the response sets for name, and whether it
// sets it at all.
func (r result) cookie(name string) (string, bool) {
	h := http.Header{"Set-Cookie": r.cookies}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

type lab struct {
	t       *testing.T
	variant string
	base    string
	c       *http.Client
}

func start(t *testing.T, variant string) *lab {
	t.Helper()
	h, err := New(variant)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, variant, h)
}

func serve(t *testing.T, variant string, h http.Handler) *lab {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &lab{t: t, variant: variant, base: srv.URL, c: c}
}

// do sends one request; cookie is the raw value of the variant's session
// cookie, "" for none.
func (l *lab) do(method, path, cookie string, form url.Values) result {
	l.t.Helper()
	body := strings.NewReader(form.Encode()) // a nil form encodes as ""
	req, err := http.NewRequest(method, l.base+path, body)
	if err != nil {
		l.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookieNames[l.variant]+"="+cookie)
	}
	res, err := l.c.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		l.t.Fatal(err)
	}
	return result{status: res.StatusCode, body: string(b), loc: res.Header.Get("Location"), cookies: res.Header.Values("Set-Cookie"), header: res.Header}
}

func (l *lab) get(path, cookie string) result {
	l.t.Helper()
	return l.do("GET", path, cookie, nil)
}

func creds(user, pass string) url.Values { return url.Values{"username": {user}, "password": {pass}} }

// login posts alice's credentials carrying cookie and returns the session
// cookie the response sets.
func (l *lab) login(path, cookie string) string {
	l.t.Helper()
	r := l.do("POST", path, cookie, creds("alice", "password123"))
	if r.status != http.StatusSeeOther || r.loc != "/profile" {
		l.t.Fatalf("login: status %d location %q", r.status, r.loc)
	}
	v, ok := r.cookie(cookieNames[l.variant])
	if !ok || v == "" {
		l.t.Fatalf("login set no %s cookie: %q", cookieNames[l.variant], r.cookies)
	}
	return v
}

func (l *lab) wantWelcome(path, cookie, user string) {
	l.t.Helper()
	r := l.get(path, cookie)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Welcome, "+user+"!") {
		l.t.Fatalf("GET %s: status %d location %q, want the profile of %s", path, r.status, r.loc, user)
	}
}

func (l *lab) wantLoggedOut(path, cookie string) {
	l.t.Helper()
	r := l.get(path, cookie)
	if r.status != http.StatusSeeOther || r.loc != "/login" {
		l.t.Fatalf("GET %s: status %d location %q, want 303 to /login", path, r.status, r.loc)
	}
}

func (l *lab) logout(path, cookie string) result {
	l.t.Helper()
	r := l.get(path, cookie)
	if r.status != http.StatusSeeOther || r.loc != "/" {
		l.t.Fatalf("logout: status %d location %q", r.status, r.loc)
	}
	return r
}

func TestAPI(t *testing.T) {
	if len(Variants) != 5 {
		t.Fatalf("Variants = %q", Variants)
	}
	for _, v := range Variants {
		if Describe(v) == "" {
			t.Errorf("Describe(%q) is empty", v)
		}
		if _, ok := cookieNames[v]; !ok {
			t.Errorf("variant %q has no test cookie name", v)
		}
	}
	if Describe("nope") != "" {
		t.Error("Describe of an unknown variant is not empty")
	}
	h, err := New("nope")
	if err == nil || h != nil {
		t.Fatal("New(nope) did not fail")
	}
	for _, v := range Variants {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error %q does not name %s", err, v)
		}
	}
}

func TestCommon(t *testing.T) {
	for _, v := range Variants {
		t.Run(v, func(t *testing.T) {
			l := start(t, v)

			home := l.get("/", "")
			if home.status != http.StatusOK || !strings.Contains(home.body, `<a href="/login">Log in</a>`) {
				t.Fatalf("GET /: status %d body %q", home.status, home.body)
			}
			page := l.get("/login", "")
			for _, want := range []string{`<form method="post" action="/login">`, `<input type="text" name="username">`, `<input type="password" name="password">`, `type="submit"`} {
				if !strings.Contains(page.body, want) {
					t.Errorf("login page lacks %s", want)
				}
			}
			if n := strings.Count(page.body, "<form"); n != 1 {
				t.Errorf("login page has %d forms", n)
			}

			c := l.login("/login", "")
			l.wantWelcome("/profile", c, "alice")
			if !strings.Contains(l.get("/profile", c).body, `<a href="/logout">Logout</a>`) {
				t.Error("profile lacks the logout link")
			}
			for _, p := range []string{"/", "/login"} {
				if r := l.get(p, c); r.status != http.StatusSeeOther || r.loc != "/profile" {
					t.Errorf("logged-in GET %s: status %d location %q", p, r.status, r.loc)
				}
			}

			// Bob's credentials work as well.
			r := l.do("POST", "/login", "", creds("bob", "securepassword"))
			bc, _ := r.cookie(cookieNames[v])
			l.wantWelcome("/profile", bc, "bob")

			for _, u := range []url.Values{creds("alice", "wrong"), creds("mallory", "password123"), creds("alice", ""), creds("bob", "password123")} {
				r := l.do("POST", "/login", "", u)
				if r.status != http.StatusOK || !strings.Contains(r.body, `<p class="error">Invalid credentials</p>`) {
					t.Fatalf("wrong login %v: status %d", u, r.status)
				}
				got, _ := r.cookie(cookieNames[v])
				l.wantLoggedOut("/profile", got)
			}
			l.wantLoggedOut("/profile", "")

			// Every response, errors included, is kept out of caches.
			for _, p := range []string{"/", "/login", "/profile", "/logout", "/no-such-page"} {
				if r := l.get(p, c); r.header.Get("Cache-Control") != "no-store" {
					t.Errorf("GET %s: Cache-Control %q", p, r.header.Get("Cache-Control"))
				}
			}
			if r := l.get("/no-such-page", ""); r.status != http.StatusNotFound {
				t.Errorf("unknown page: status %d", r.status)
			}
			if r := l.do("PUT", "/login", "", nil); r.status != http.StatusMethodNotAllowed {
				t.Errorf("PUT /login: status %d", r.status)
			}
		})
	}
}

// TestIndependent checks that each New has its own state and key.
func TestIndependent(t *testing.T) {
	for _, v := range Variants {
		t.Run(v, func(t *testing.T) {
			a, b := start(t, v), start(t, v)
			c := a.login("/login", "")
			if v == "seed1" || v == "seed2" {
				// Their ids are guessable, so compare state by a fixed id.
				c = a.login("/login", "shared1")
			}
			b.wantLoggedOut("/profile", c)
		})
	}
}

func TestSeed1(t *testing.T) {
	l := start(t, "seed1")
	seq := regexp.MustCompile(`^session([0-9]+)$`)
	fresh := func() int {
		r := l.get("/", "")
		c, ok := r.cookie("session_id")
		m := seq.FindStringSubmatch(c)
		if !ok || m == nil {
			t.Fatalf("GET / set %q", r.cookies)
		}
		if r.cookies[0] != "session_id="+c+"; Path=/" {
			t.Errorf("Set-Cookie %q, want plain flags", r.cookies[0])
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	a, b := fresh(), fresh()
	if b != a+1 {
		t.Errorf("fresh ids session%d then session%d, want consecutive", a, b)
	}
	for _, p := range []string{"/login", "/profile"} {
		if r := l.get(p, ""); len(r.cookies) != 1 {
			t.Errorf("GET %s without a cookie set %q", p, r.cookies)
		}
	}
	// A known cookie is kept: no new id.
	if r := l.get("/", "session1"); len(r.cookies) != 0 {
		t.Errorf("GET / with a cookie set %q", r.cookies)
	}

	t.Run("concurrent ids distinct", func(t *testing.T) {
		var mu sync.Mutex
		seen := map[string]bool{}
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				req, _ := http.NewRequest("GET", l.base+"/", nil)
				res, err := l.c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				for _, c := range res.Cookies() {
					mu.Lock()
					if seen[c.Value] {
						t.Errorf("id %s handed out twice", c.Value)
					}
					seen[c.Value] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != 50 {
			t.Errorf("%d distinct ids for 50 requests", len(seen))
		}
	})

	t.Run("planted cookie adopted", func(t *testing.T) {
		l.wantLoggedOut("/profile", "planted-by-attacker")
		if c := l.login("/login", "planted-by-attacker"); c != "planted-by-attacker" {
			t.Fatalf("login changed the id to %q", c)
		}
		l.wantWelcome("/profile", "planted-by-attacker", "alice")
	})

	t.Run("login without cookie", func(t *testing.T) {
		c := l.login("/login", "")
		if !seq.MatchString(c) {
			t.Fatalf("login without a cookie gave %q", c)
		}
		l.wantWelcome("/profile", c, "alice")
	})

	t.Run("set_session fixation", func(t *testing.T) {
		r := l.get("/set_session/fixated_session", "")
		if r.status != http.StatusSeeOther || r.loc != "/" {
			t.Fatalf("set_session: status %d location %q", r.status, r.loc)
		}
		if c, _ := r.cookie("session_id"); c != "fixated_session" {
			t.Fatalf("set_session set %q", r.cookies)
		}
		if c := l.login("/login", "fixated_session"); c != "fixated_session" {
			t.Fatalf("login changed the id to %q", c)
		}
		if r := l.get("/profile", "fixated_session"); r.status != http.StatusSeeOther || r.loc != "/congrats" {
			t.Fatalf("profile: status %d location %q, want /congrats", r.status, r.loc)
		}
		if r := l.get("/congrats", ""); r.status != http.StatusOK || !strings.Contains(r.body, "Congratulations! You hijacked a session by fixing its id.") {
			t.Fatalf("congrats: status %d", r.status)
		}
		if r := l.get("/set_session/a%20b", ""); r.status != http.StatusBadRequest {
			t.Errorf("set_session with a space: status %d", r.status)
		}
	})

	t.Run("logout", func(t *testing.T) {
		c := l.login("/login", "victim-id")
		l.wantWelcome("/profile", c, "alice")
		r := l.logout("/logout", c)
		if len(r.cookies) != 0 {
			t.Errorf("logout touched the cookie: %q", r.cookies)
		}
		l.wantLoggedOut("/profile", c)
		// The id stays known, so no new one is issued for it.
		if r := l.get("/", c); r.status != http.StatusOK || len(r.cookies) != 0 {
			t.Errorf("after logout GET /: status %d cookies %q", r.status, r.cookies)
		}
	})
}

func TestSeed2(t *testing.T) {
	l := start(t, "seed2")
	six := regexp.MustCompile(`^[1-9][0-9]{5}$`)
	for _, p := range []string{"/", "/login", "/profile"} {
		r := l.get(p, "")
		c, ok := r.cookie("session_id")
		if !ok || !six.MatchString(c) {
			t.Fatalf("GET %s set %q, want a 6-digit id", p, r.cookies)
		}
		if r.cookies[0] != "session_id="+c+"; Path=/" {
			t.Errorf("Set-Cookie %q, want plain flags", r.cookies[0])
		}
	}
	if c := l.login("/login", ""); !six.MatchString(c) {
		t.Errorf("login without an id gave %q", c)
	}

	t.Run("id from URL", func(t *testing.T) {
		l.wantLoggedOut("/profile?session_id=123456", "")
		r := l.do("POST", "/login?session_id=123456", "", creds("alice", "password123"))
		if r.status != http.StatusSeeOther || r.loc != "/profile" {
			t.Fatalf("login: status %d location %q", r.status, r.loc)
		}
		if c, _ := r.cookie("session_id"); c != "123456" {
			t.Fatalf("login set %q, want the URL id as cookie", r.cookies)
		}
		l.wantWelcome("/profile?session_id=123456", "", "alice")
		l.wantWelcome("/profile", "123456", "alice")
		l.wantLoggedOut("/profile?session_id=654321", "")
	})

	t.Run("id from a link becomes the cookie", func(t *testing.T) {
		r := l.get("/login?session_id=246810", "")
		if c, _ := r.cookie("session_id"); c != "246810" {
			t.Fatalf("GET /login?session_id=246810 set %q, want the link's id as cookie", r.cookies)
		}
		if c := l.login("/login", "246810"); c != "246810" {
			t.Fatalf("login changed the id to %q", c)
		}
		l.wantWelcome("/profile?session_id=246810", "", "alice")
	})

	t.Run("planted cookie adopted", func(t *testing.T) {
		if c := l.login("/login", "777777"); c != "777777" {
			t.Fatalf("login changed the id to %q", c)
		}
		l.wantWelcome("/profile", "777777", "alice")
	})

	t.Run("congratulations", func(t *testing.T) {
		if r := l.get("/set_congrats?session_id=999999", ""); r.status != http.StatusSeeOther || r.loc != "/login" {
			t.Fatalf("anonymous set_congrats: status %d location %q", r.status, r.loc)
		}
		if r := l.get("/congratulations?session_id=123456", ""); r.status != http.StatusSeeOther || r.loc != "/" {
			t.Fatalf("unmarked congratulations: status %d location %q", r.status, r.loc)
		}
		r := l.get("/set_congrats?session_id=123456", "")
		if r.status != http.StatusSeeOther || r.loc != "/congratulations?session_id=123456" {
			t.Fatalf("set_congrats: status %d location %q", r.status, r.loc)
		}
		r = l.get(r.loc, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, "Congratulations! The session you fixed is logged in as alice.") {
			t.Fatalf("congratulations: status %d body %q", r.status, r.body)
		}
		// By cookie, the redirect carries no query.
		if r := l.get("/set_congrats", "777777"); r.loc != "/congratulations" {
			t.Errorf("set_congrats by cookie: location %q", r.loc)
		}
	})

	t.Run("logout", func(t *testing.T) {
		r := l.logout("/logout", "123456")
		if len(r.cookies) != 1 || !strings.Contains(r.cookies[0], "Max-Age=0") {
			t.Errorf("logout Set-Cookie %q, want it expired", r.cookies)
		}
		l.wantLoggedOut("/profile?session_id=123456", "")
		l.wantLoggedOut("/profile", "123456")
		if r := l.get("/congratulations?session_id=123456", ""); r.loc != "/" {
			t.Errorf("congratulations after logout: location %q", r.loc)
		}
	})
}

func TestAdopt(t *testing.T) {
	l := start(t, "adopt")
	for _, p := range []string{"/", "/login", "/profile", "/logout"} {
		if r := l.get(p, ""); p != "/logout" && len(r.cookies) != 0 {
			t.Errorf("anonymous GET %s set %q", p, r.cookies)
		}
	}
	if r := l.do("POST", "/login", "", creds("alice", "nope")); len(r.cookies) != 0 {
		t.Errorf("failed login set %q", r.cookies)
	}

	t.Run("flags and fresh id", func(t *testing.T) {
		r := l.do("POST", "/login", "", creds("alice", "password123"))
		c, _ := r.cookie("SESSIONID")
		if len(c) != 43 {
			t.Errorf("id %q is not 43 characters", c)
		}
		if want := "SESSIONID=" + c + "; Path=/; HttpOnly; Secure; SameSite=Lax"; len(r.cookies) != 1 || r.cookies[0] != want {
			t.Errorf("Set-Cookie %q, want %q", r.cookies, want)
		}
		if other := l.login("/login", ""); other == c {
			t.Error("two logins gave the same id")
		}
	})

	t.Run("planted cookie adopted", func(t *testing.T) {
		l.wantLoggedOut("/profile", "attacker-chosen")
		if c := l.login("/login", "attacker-chosen"); c != "attacker-chosen" {
			t.Fatalf("login changed the id to %q", c)
		}
		l.wantWelcome("/profile", "attacker-chosen", "alice")
	})

	t.Run("logout", func(t *testing.T) {
		c := l.login("/login", "")
		r := l.logout("/logout", c)
		if len(r.cookies) != 1 || !strings.Contains(r.cookies[0], "Max-Age=0") || !strings.Contains(r.cookies[0], "HttpOnly") {
			t.Errorf("logout Set-Cookie %q", r.cookies)
		}
		l.wantLoggedOut("/profile", c)
	})
}

func TestStateless(t *testing.T) {
	l := start(t, "stateless")
	for _, p := range []string{"/", "/login", "/profile"} {
		if r := l.get(p, ""); len(r.cookies) != 0 {
			t.Errorf("anonymous GET %s set %q", p, r.cookies)
		}
	}

	r := l.do("POST", "/login", "", creds("alice", "password123"))
	c, _ := r.cookie("session")
	if want := "session=" + c + "; Path=/; HttpOnly; Secure; SameSite=Lax"; len(r.cookies) != 1 || r.cookies[0] != want {
		t.Errorf("Set-Cookie %q, want %q", r.cookies, want)
	}
	l.wantWelcome("/profile", c, "alice")

	t.Run("fresh cookie per login", func(t *testing.T) {
		if c2 := l.login("/login", ""); c2 == c {
			t.Error("two logins gave the same cookie")
		}
		if c3 := l.login("/login", c); c3 == c {
			t.Error("login kept the cookie it was carrying")
		}
	})

	t.Run("tampering", func(t *testing.T) {
		payload, sig, _ := strings.Cut(c, ".")
		flip := func(s string, i int) string {
			b := []byte(s)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b)
		}
		bob := base64.RawURLEncoding.EncodeToString([]byte(`{"u":"bob","n":"x"}`))
		for name, v := range map[string]string{
			"signature middle": payload + "." + flip(sig, len(sig)/2),
			"signature last":   payload + "." + flip(sig, len(sig)-1),
			"payload":          flip(payload, len(payload)/2) + "." + sig,
			"other user":       bob + "." + sig,
			"unsigned":         payload,
			"empty signature":  payload + ".",
			"garbage":          "not-a-cookie",
		} {
			if r := l.get("/profile", v); r.status != http.StatusSeeOther || r.loc != "/login" {
				t.Errorf("%s: status %d location %q, want 303 to /login", name, r.status, r.loc)
			}
		}
		other := start(t, "stateless")
		other.wantLoggedOut("/profile", c)
	})

	t.Run("replay after logout", func(t *testing.T) {
		r := l.logout("/logout", c)
		if len(r.cookies) != 1 || !strings.Contains(r.cookies[0], "Max-Age=0") {
			t.Errorf("logout Set-Cookie %q, want it expired", r.cookies)
		}
		l.wantWelcome("/profile", c, "alice")
	})
}

// clock is a settable time source for session timeouts.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLaxcookie(t *testing.T) {
	clk := &clock{t: time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)}
	h, err := build("laxcookie", clk.now)
	if err != nil {
		t.Fatal(err)
	}
	l := serve(t, "laxcookie", h)
	for _, p := range []string{"/", "/login", "/profile"} {
		if r := l.get(p, ""); len(r.cookies) != 0 {
			t.Errorf("anonymous GET %s set %q", p, r.cookies)
		}
	}

	t.Run("lax flags", func(t *testing.T) {
		r := l.do("POST", "/login", "", creds("alice", "password123"))
		c, _ := r.cookie("lab_session")
		if len(c) != 43 {
			t.Errorf("id %q is not 43 characters", c)
		}
		if want := "lab_session=" + c + "; Path=/"; len(r.cookies) != 1 || r.cookies[0] != want {
			t.Fatalf("Set-Cookie %q, want %q", r.cookies, want)
		}
		for _, flag := range []string{"httponly", "secure", "samesite"} {
			if strings.Contains(strings.ToLower(r.cookies[0]), flag) {
				t.Errorf("Set-Cookie has %s", flag)
			}
		}
	})

	t.Run("new id at login", func(t *testing.T) {
		l.wantLoggedOut("/profile", "planted-by-attacker")
		if c := l.login("/login", "planted-by-attacker"); c == "planted-by-attacker" {
			t.Fatal("login kept a planted id")
		}
		l.wantLoggedOut("/profile", "planted-by-attacker")

		c1 := l.login("/login", "")
		c2 := l.login("/login", c1)
		if c2 == c1 {
			t.Fatal("login kept the carried id")
		}
		l.wantLoggedOut("/profile", c1)
		l.wantWelcome("/profile", c2, "alice")
	})

	t.Run("unknown cookie ignored", func(t *testing.T) {
		if r := l.get("/", "bogus"); r.status != http.StatusOK || len(r.cookies) != 0 {
			t.Errorf("GET / with an unknown id: status %d cookies %q", r.status, r.cookies)
		}
		l.wantLoggedOut("/profile", "bogus")
	})

	t.Run("logout", func(t *testing.T) {
		c := l.login("/login", "")
		r := l.logout("/logout", c)
		if len(r.cookies) != 1 || !strings.Contains(r.cookies[0], "Max-Age=0") {
			t.Errorf("logout Set-Cookie %q, want it expired", r.cookies)
		}
		l.wantLoggedOut("/profile", c)
	})

	t.Run("idle timeout", func(t *testing.T) {
		c := l.login("/login", "")
		clk.advance(14 * time.Minute)
		l.wantWelcome("/profile", c, "alice") // activity resets the idle clock
		clk.advance(14 * time.Minute)
		l.wantWelcome("/profile", c, "alice")
		clk.advance(16 * time.Minute)
		l.wantLoggedOut("/profile", c)
		clk.advance(-16 * time.Minute)
		l.wantLoggedOut("/profile", c) // gone, not merely hidden
	})

	t.Run("absolute timeout", func(t *testing.T) {
		c := l.login("/login", "")
		for range 72 {
			clk.advance(10 * time.Minute)
			l.wantWelcome("/profile", c, "alice")
		}
		clk.advance(10 * time.Minute)
		l.wantLoggedOut("/profile", c)
	})
}

// TestRobust feeds oversized and malformed input to every page of every
// variant: nothing may fail with a 5xx.
func TestRobust(t *testing.T) {
	huge := strings.Repeat("a", 10<<10)
	for _, v := range Variants {
		t.Run(v, func(t *testing.T) {
			l := start(t, v)
			paths := append([]string{"/", "/login", "/profile", "/logout", "/?session_id=" + huge, "/set_session/" + huge}, extraPaths[v]...)
			for _, p := range paths {
				for _, c := range []string{"", huge, "%ff%fe", `a b,c"d`, "x=y=z"} {
					if r := l.get(p, c); r.status >= 500 {
						t.Errorf("GET %.40s with cookie %.10q: status %d", p, c, r.status)
					}
				}
			}

			// An oversized cookie is not used as a session id.
			c := l.login("/login", huge)
			if c == huge {
				t.Error("a 10 KB cookie became the session id")
			}
			l.wantWelcome("/profile", c, "alice")
			l.wantLoggedOut("/profile", huge)

			for _, f := range []url.Values{
				creds("\xff\xfe", "\xc3\x28"),
				creds("alice", "password123\xff"),
				creds("<script>", "x"),
				{"username": {"alice", "bob"}},
				{},
			} {
				r := l.do("POST", "/login", "", f)
				if r.status != http.StatusOK || !strings.Contains(r.body, "Invalid credentials") || strings.Contains(r.body, "<script>") {
					t.Errorf("POST /login %q: status %d", f, r.status)
				}
			}

			r := l.do("POST", "/login", "", url.Values{"username": {"alice"}, "password": {strings.Repeat("x", 1<<20)}})
			if r.status < 400 || r.status >= 500 {
				t.Errorf("1 MB form: status %d", r.status)
			}
		})
	}
}

// Visits without a login store nothing, so a flood of them costs no memory.
func TestSeed1AnonymousVisitsStoreNothing(t *testing.T) {
	s := newSeed1()
	h := newApp(s, Users, "seed1", seed1Cookie)
	for range 100 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Header().Get("Set-Cookie") == "" {
			t.Fatal("no session id handed out")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) != 0 {
		t.Fatalf("%d sessions stored for anonymous visits", len(s.sessions))
	}
}
