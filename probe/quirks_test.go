package probe_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectbook/connectbook/probe"
)

// quirks varies one behaviour of an otherwise sound site.
type quirks struct {
	confirmLogout bool          // GET /logout asks; its POST form logs out
	publicProfile bool          // /profile shows the username to everyone
	logoutHref    string        // the logout link's href
	getForm       bool          // the login form is sent by GET
	laxFlags      bool          // the cookie has no HttpOnly, Secure or SameSite
	preToken      bool          // a strong id before login, replaced at login
	token         func() string // the ids issued at login
	adopt         func(string) bool
	approveForm   bool   // the profile page has a "Sign off" (approve) form
	noopLogout    bool   // /logout only redirects
	registration  string // a Secure-Session-Registration header on the login POST's answer
	approvals     *atomic.Int64
	cookieName    string // the session cookie's name; __Host-sid if empty
	domain        string // a Domain attribute on the session cookie
	maxAge        int    // a Max-Age on the session cookie
	reissue       bool   // every signed-in page sets the session cookie again, to a new value
	reissueFlags  string // "lax" or "strict": the cookie set again has no flags, or all of them, whatever the login's had
	keepSignedIn  bool   // a login keeps the id of a signed-in session the browser carries
	noFormSigned  bool   // the login page sends a signed-in browser to its profile
}

// mac is an HMAC-SHA256 of data under a fixed key, cut to n bytes.
func mac(data string, n int, enc *base64.Encoding) string {
	h := hmac.New(sha256.New, []byte("site key"))
	h.Write([]byte(data))
	return enc.EncodeToString(h.Sum(nil)[:n])
}

// record48 is 48 bytes derived from data alone, in base64: an opaque
// record, the same for the same data.
func record48(data string) string {
	a, b := sha256.Sum256([]byte("k1"+data)), sha256.Sum256([]byte("k2"+data))
	return base64.RawURLEncoding.EncodeToString(append(a[:], b[:16]...))
}

// secondsB64 is the current second as itsdangerous writes it.
func secondsB64() string {
	var ts [4]byte
	binary.BigEndian.PutUint32(ts[:], uint32(time.Now().Unix()))
	return base64.RawURLEncoding.EncodeToString(ts[:])
}

// base62 writes n as Django's signing does.
func base62(n int64) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	s := ""
	for ; n > 0; n /= 62 {
		s = string(digits[n%62]) + s
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// quirkySite answers alice / pw-secret-123 with a "__Host-sid" session
// cookie.
func quirkySite(t *testing.T, q quirks) *httptest.Server {
	sid := q.cookieName
	if sid == "" {
		sid = "__Host-sid"
	}
	var mu sync.Mutex
	sessions := map[string]string{}
	user := func(r *http.Request) string {
		c, err := r.Cookie(sid)
		if err != nil {
			return ""
		}
		mu.Lock()
		defer mu.Unlock()
		return sessions[c.Value]
	}
	drop := func(r *http.Request) {
		if c, err := r.Cookie(sid); err == nil {
			mu.Lock()
			if who := sessions[c.Value]; q.reissue && who != "" {
				// Every value issued to the session ends with it.
				maps.DeleteFunc(sessions, func(_, u string) bool { return u == who })
			}
			delete(sessions, c.Value)
			mu.Unlock()
		}
	}
	setSid := func(w http.ResponseWriter, v string) {
		c := &http.Cookie{Name: sid, Value: v, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}
		if q.laxFlags {
			c = &http.Cookie{Name: sid, Value: v, Path: "/"}
		}
		c.Domain, c.MaxAge = q.domain, q.maxAge
		http.SetCookie(w, c)
	}
	form := `<form method="post" action="/login"><input name="username"><input type="password" name="password"><button>Log in</button></form>`
	if q.getForm {
		form = strings.Replace(form, `method="post" `, "", 1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && q.noFormSigned && user(r) != "" {
			http.Redirect(w, r, "/profile", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodGet && !r.URL.Query().Has("username") {
			if _, err := r.Cookie(sid); err != nil && q.preToken {
				setSid(w, randomHex(32))
			}
			fmt.Fprint(w, form)
			return
		}
		who := r.FormValue("username")
		if pw, ok := map[string]string{"alice": "pw-secret-123", "mallory": "pw-mallory-789"}[who]; !ok || r.FormValue("password") != pw {
			http.Error(w, "Wrong username or password", http.StatusUnauthorized)
			return
		}
		id := ""
		if c, err := r.Cookie(sid); err == nil && q.adopt != nil && q.adopt(c.Value) {
			id = c.Value
		} else if err == nil && q.keepSignedIn && user(r) != "" {
			id = c.Value // the signed-in session goes on, now as who
		} else {
			drop(r)
			id = randomHex(32)
			if q.token != nil {
				id = q.token()
			}
		}
		mu.Lock()
		sessions[id] = who
		mu.Unlock()
		setSid(w, id)
		if q.registration != "" {
			w.Header().Set("Secure-Session-Registration", q.registration)
		}
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
	})
	mux.HandleFunc("/profile", func(w http.ResponseWriter, r *http.Request) {
		if user(r) == "" && !q.publicProfile {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if q.reissue && user(r) != "" {
			// As a cookie store that encrypts the session anew on every
			// response: a new value each time, the old ones still valid.
			id := randomHex(32)
			mu.Lock()
			sessions[id] = "alice"
			mu.Unlock()
			switch q.reissueFlags {
			case "lax":
				http.SetCookie(w, &http.Cookie{Name: sid, Value: id, Path: "/"})
			case "strict":
				http.SetCookie(w, &http.Cookie{Name: sid, Value: id, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
			default:
				setSid(w, id)
			}
		}
		href := "/logout"
		if q.logoutHref != "" {
			href = q.logoutHref
		}
		if q.approveForm {
			fmt.Fprint(w, `<form method="post" action="/expenses/42/approve"><button>Sign off</button></form>`)
		}
		who := user(r)
		if who == "" {
			who = "alice" // the public profile
		}
		fmt.Fprintf(w, `<p>Profile of %s</p><a href="%s">Log out</a>`, who, href)
	})
	mux.HandleFunc("POST /expenses/42/approve", func(w http.ResponseWriter, r *http.Request) {
		if q.approvals != nil {
			q.approvals.Add(1)
		}
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if q.noopLogout {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		if q.confirmLogout && r.Method == http.MethodGet {
			fmt.Fprint(w, `<p>Are you sure?</p><form method="post" action="/logout"><button>Yes, sign out</button></form>`)
			return
		}
		drop(r)
		http.SetCookie(w, &http.Cookie{Name: sid, Path: "/", MaxAge: -1})
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func probeQuirky(t *testing.T, srv *httptest.Server) (*probe.Report, error) {
	return probe.Run(context.Background(), probe.Config{Target: srv.URL, Username: "alice", Password: "pw-secret-123",
		AuthedText: "Profile of alice", Rate: 5000})
}

func TestQuirkySites(t *testing.T) {
	var counter atomic.Int64
	for _, tc := range []struct {
		name    string
		q       quirks
		want    []string
		skipped string // a check that must be reported as not run
	}{
		{"sound", quirks{}, nil, ""},
		{"session cookie set again on every page, without flags", quirks{reissue: true, laxFlags: true}, []string{probe.CookieFlags}, ""},
		{"session cookie set again on every page", quirks{reissue: true}, nil, ""},
		// The flags judged are those of the most recent Set-Cookie.
		{"session cookie set again without the flags the login's had", quirks{reissue: true, reissueFlags: "lax"}, []string{probe.CookieFlags}, ""},
		{"session cookie set again with the flags the login's lacked", quirks{reissue: true, laxFlags: true, reissueFlags: "strict"}, nil, ""},
		{"session cookie shared with subdomains", quirks{cookieName: "sid", domain: "example.test"}, []string{probe.CookieScope}, ""},
		{"session cookie kept for 30 days", quirks{maxAge: 30 * 24 * 3600}, []string{probe.CookieScope}, ""},
		{"session cookie kept for 8 hours", quirks{maxAge: 8 * 3600}, nil, ""},
		{"session cookie without the __Host- prefix", quirks{cookieName: "sid"}, []string{probe.CookieScope}, ""},
		{"logout asks for confirmation", quirks{confirmLogout: true}, nil, ""},
		{"logout by script", quirks{logoutHref: "javascript:logout()"}, nil, "logout-replay"},
		{"logout link to the page itself", quirks{logoutHref: "#"}, nil, "logout-replay"},
		{"login form sent by GET", quirks{getForm: true, laxFlags: true}, []string{probe.CookieFlags}, ""},
		{"96-bit ids after a fixed prefix", quirks{token: func() string { return "sess_" + randomHex(12) }}, []string{probe.WeakToken}, ""},
		{"UUIDv4 ids", quirks{token: func() string {
			h := randomHex(16)
			return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
		}}, []string{probe.WeakToken}, ""},
		{"strong id before login, a counter after", quirks{preToken: true, token: func() string {
			return "u" + strconv.FormatInt(1000+counter.Add(1), 10)
		}}, []string{probe.WeakToken}, ""},
		{"adopts well-formed 6-digit ids", quirks{
			token: func() string { return strconv.Itoa(100000 + int(counter.Add(7919)%900000)) },
			adopt: func(v string) bool { _, err := strconv.Atoi(v); return len(v) == 6 && err == nil },
		}, []string{probe.FixationAdoptedID, probe.WeakToken}, ""},
		{"logout does nothing", quirks{noopLogout: true}, []string{probe.LogoutReplay}, ""},
		{"adopts well-formed prefixed hex ids", quirks{
			token: func() string { return "sess_" + randomHex(16) },
			adopt: func(v string) bool {
				_, err := hex.DecodeString(strings.TrimPrefix(v, "sess_"))
				return len(v) == 37 && strings.HasPrefix(v, "sess_") && err == nil
			},
		}, []string{probe.FixationAdoptedID}, ""},
		{"adopts well-formed ids with a node suffix", quirks{
			token: func() string { return strings.ToUpper(randomHex(16)) + ".node1" },
			adopt: func(v string) bool {
				id, ok := strings.CutSuffix(v, ".node1")
				_, err := hex.DecodeString(id)
				return ok && len(id) == 32 && strings.ToUpper(id) == id && err == nil
			},
		}, []string{probe.FixationAdoptedID}, ""},
		{"signed records with the time in seconds", quirks{token: func() string {
			payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"alice","iat":%d}`, time.Now().Unix())))
			return "eyJhbGciOiJIUzI1NiJ9." + payload + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
		}}, nil, "weak-token"},
		// Records of the same data signed in the same second are the same
		// value: not a duplicate id, and not judged.
		{"Flask compressed sessions", quirks{token: func() string {
			var b bytes.Buffer
			z := zlib.NewWriter(&b)
			z.Write([]byte(`{"_user_id":"1"}`))
			z.Close()
			payload := "." + base64.RawURLEncoding.EncodeToString(b.Bytes()) + "." + secondsB64()
			return payload + "." + mac(payload, 20, base64.RawURLEncoding)
		}}, nil, "zlib"},
		{"Django signed-cookie sessions", quirks{token: func() string {
			payload := base64.RawURLEncoding.EncodeToString([]byte(`{"_auth_user_id":"1"}`)) + ":" + base62(time.Now().Unix())
			return payload + ":" + mac(payload, 32, base64.RawURLEncoding)
		}}, nil, "Django"},
		{"gorilla/securecookie sessions", quirks{token: func() string {
			inner := fmt.Sprintf("%d|%s|", time.Now().Unix(), base64.URLEncoding.EncodeToString([]byte("alice")))
			return base64.URLEncoding.EncodeToString([]byte(inner + mac(inner, 32, base64.RawStdEncoding)))
		}}, nil, "gorilla"},
		{"Rails encrypted cookie store", quirks{token: func() string {
			return url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(randomHex(45))) + "--" +
				base64.StdEncoding.EncodeToString([]byte(randomHex(6))) + "--" + base64.StdEncoding.EncodeToString([]byte(randomHex(8))))
		}}, nil, "Rails"},
		{"Laravel encrypted cookies", quirks{token: func() string {
			v := fmt.Sprintf(`{"iv":"%s","value":"%s","mac":"%s","tag":""}`, base64.StdEncoding.EncodeToString([]byte(randomHex(8))),
				base64.StdEncoding.EncodeToString([]byte(randomHex(32))), randomHex(32))
			return url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(v)))
		}}, nil, "Laravel"},
		// Records recognised by behaviour alone: an opaque value that
		// repeats within a second and changes with the time, longer than
		// a bare hash.
		{"opaque records of the user and the second", quirks{token: func() string {
			return record48(fmt.Sprint("alice", time.Now().Unix()))
		}}, nil, "change with the time"},
		{"a SHA-256 of the user and the second", quirks{token: func() string {
			return fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint("alice", time.Now().Unix()))))
		}}, []string{probe.WeakToken}, ""},
		{"a long value that never changes", quirks{token: func() string {
			return record48("alice")
		}}, []string{probe.WeakToken}, ""},
		// Shaped like signed records, but not: a counter where a
		// timestamp would be, and JWTs without a signature.
		{"a counter and a constant hash, dot-separated", quirks{token: func() string {
			return fmt.Sprintf("alice.%d.%x", 10000+counter.Add(1), md5.Sum([]byte("constant")))
		}}, []string{probe.WeakToken}, ""},
		{"unsigned JWTs", quirks{token: func() string {
			payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"alice","iat":%d,"n":%d}`, time.Now().Unix(), counter.Add(1))))
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + payload + "."
		}}, []string{probe.WeakToken}, ""},
		{"an md5 of the user and the second", quirks{token: func() string {
			return fmt.Sprintf("%x", md5.Sum([]byte(fmt.Sprint("alice", time.Now().Unix()))))
		}}, []string{probe.WeakToken}, ""},
		{"adopts well-formed uppercase hex ids", quirks{
			token: func() string { return strings.ToUpper(randomHex(16)) },
			adopt: func(v string) bool {
				_, err := hex.DecodeString(v)
				return len(v) == 32 && strings.ToUpper(v) == v && err == nil
			},
		}, []string{probe.FixationAdoptedID}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := probeQuirky(t, quirkySite(t, tc.q))
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(rep); !slices.Equal(got, tc.want) {
				t.Errorf("findings = %v, want %v", got, tc.want)
			}
			skipped := strings.Join(rep.Skipped, "\n")
			if (tc.skipped == "") != (skipped == "") || !strings.Contains(skipped, tc.skipped) {
				t.Errorf("skipped = %q, want %q", skipped, tc.skipped)
			}
			// Records left unjudged are not given a verdict after all.
			if strings.Contains(skipped, probe.WeakToken) && (rep.Tokens != nil || strings.Contains(skipped, "wanted")) {
				t.Errorf("unjudged records given statistics: %q, %+v", skipped, rep.Tokens)
			}
			for _, f := range rep.Findings {
				for _, s := range f.Evidence {
					if strings.Contains(s.Request, "pw-secret-123") {
						t.Errorf("%s: the password is in the evidence: %q", f.ID, s.Request)
					}
				}
			}
		})
	}
}

// A form whose button says "Sign off" (approve, in many an office) is not
// taken for a logout, and is never submitted.
func TestApproveFormUntouched(t *testing.T) {
	var approvals atomic.Int64
	rep, err := probeQuirky(t, quirkySite(t, quirks{approveForm: true, approvals: &approvals}))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 || len(rep.Skipped) != 0 || rep.LeftSignedIn != 0 {
		t.Fatalf("findings %v, skipped %v, left signed in %d; want none", ids(rep), rep.Skipped, rep.LeftSignedIn)
	}
	if n := approvals.Load(); n != 0 {
		t.Fatalf("the approve form was submitted %d times", n)
	}
}

// A signed-in page that everybody sees cannot tell sessions apart: the
// probe refuses to run rather than report every attack as working.
func TestPublicAuthedPage(t *testing.T) {
	_, err := probeQuirky(t, quirkySite(t, quirks{publicProfile: true}))
	if !errors.Is(err, probe.ErrLogin) || !strings.Contains(err.Error(), "without cookies") {
		t.Fatalf("Run = %v, want a refusal naming the page", err)
	}
}

// The target's cookies never go to another host, even where its pages
// link there.
func TestCookiesStayOnTarget(t *testing.T) {
	var hits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer other.Close()
	rep, err := probeQuirky(t, quirkySite(t, quirks{logoutHref: other.URL + "/logout"}))
	if err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the other host got %d requests", n)
	}
	if len(rep.Findings) != 0 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "logout-replay") {
		t.Fatalf("findings %v, skipped %v; want logout-replay not run", ids(rep), rep.Skipped)
	}

	loginElsewhere := http.NewServeMux()
	loginElsewhere.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<form method="post" action="%s/login"><input name="u"><input type="password" name="p"></form>`, other.URL)
	})
	srv := httptest.NewServer(loginElsewhere)
	defer srv.Close()
	_, err = probe.Run(context.Background(), probe.Config{Target: srv.URL, Username: "alice", Password: "x", Rate: 5000})
	if !errors.Is(err, probe.ErrLogin) || !strings.Contains(err.Error(), "another host") || hits.Load() != 0 {
		t.Fatalf("Run = %v with %d requests elsewhere; want a refusal and none", err, hits.Load())
	}
}

// Hostile answers end the probe with an error, within bounds: endless
// redirects, deep markup, a huge body, oversized cookies.
func TestHostileSites(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) }},
		{"deep markup", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, strings.Repeat("<div><form><input>", 60000))
		}},
		{"huge body", func(w http.ResponseWriter, r *http.Request) {
			chunk := strings.Repeat("x", 1<<16)
			for range 64 { // 4 MiB
				fmt.Fprint(w, chunk)
			}
		}},
		{"huge cookies", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Set-Cookie", "sid="+strings.Repeat("A", 100<<10)+"; Path=/")
			fmt.Fprint(w, `<form method="post"><input name="u"><input type="password" name="p"></form>`)
		}},
		{"not HTML", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write([]byte{0, 1, 2, 0xff, '<', 0})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			rep, err := probe.Run(context.Background(), probe.Config{Target: srv.URL, Username: "a", Password: "b", Rate: 5000})
			if err == nil || rep != nil {
				t.Fatalf("Run = %v, %v; want an error", rep, err)
			}
		})
	}
}

// Whether a site offers Device Bound Session Credentials is reported for
// information, never as a finding.
func TestDeviceBoundReported(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   probe.DeviceBound
	}{
		{"", probe.DeviceBound{}},
		{`(ES256 RS256);path="/dbsc/register";challenge="abc"`, probe.DeviceBound{Offered: true, Algorithms: []string{"ES256", "RS256"}, Registration: "/dbsc/register"}},
		{`(ES256)`, probe.DeviceBound{Offered: true, Algorithms: []string{"ES256"}}},
		{`nonsense`, probe.DeviceBound{}},
		{`()`, probe.DeviceBound{}},
	} {
		rep, err := probeQuirky(t, quirkySite(t, quirks{registration: tc.header}))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rep.DeviceBound, tc.want) {
			t.Errorf("header %q: %+v, want %+v", tc.header, rep.DeviceBound, tc.want)
		}
		if len(rep.Findings) != 0 {
			t.Errorf("header %q: findings %v", tc.header, ids(rep))
		}
		var text strings.Builder
		rep.WriteText(&text)
		want := "Device Bound Session Credentials: not offered"
		if tc.want.Offered {
			want = "Device Bound Session Credentials: offered at sign-in (" + strings.Join(tc.want.Algorithms, ", ")
		}
		if !strings.Contains(text.String(), want) {
			t.Errorf("header %q: report lacks %q:\n%s", tc.header, want, text.String())
		}
	}
}

// cookie-scope's severity follows the worst reach: a Domain shares the
// cookie with every subdomain (medium); a missing __Host- prefix alone is
// a hardening note (low).
func TestCookieScopeSeverity(t *testing.T) {
	for _, tc := range []struct {
		q        quirks
		severity string
		says     string
	}{
		{quirks{cookieName: "sid", domain: "example.test", maxAge: 3600}, "medium", "Domain=example.test"},
		{quirks{cookieName: "sid"}, "low", "__Host- prefix"},
		{quirks{maxAge: 90 * 24 * 3600}, "low", "persistent for 90 days"},
	} {
		rep, err := probeQuirky(t, quirkySite(t, tc.q))
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Findings) != 1 || rep.Findings[0].ID != probe.CookieScope {
			t.Fatalf("%+v: findings = %v, want cookie-scope", tc.q, ids(rep))
		}
		f := rep.Findings[0]
		if f.Severity != tc.severity || !strings.Contains(f.Detail, tc.says) || len(f.Evidence) == 0 {
			t.Errorf("%+v: severity %s, detail %q, %d evidence steps; want %s, saying %q, with evidence", tc.q, f.Severity, f.Detail, len(f.Evidence), tc.severity, tc.says)
		}
	}
}

// Fixation by an authenticated session: found on a site that keeps a
// signed-in session's id when another user signs in on that browser,
// given a second account; not run without one, and passed where login
// issues a new id.
// A wrong password for the second account stops the probe and says so,
// rather than judge an anonymous session as the attacker's signed-in one.
func TestWrongSecondAccount(t *testing.T) {
	for _, q := range []quirks{{keepSignedIn: true}, {}, {preToken: true, adopt: func(string) bool { return true }}} {
		for _, authed := range []string{"", "Profile of alice"} {
			cfg := probe.Config{Target: quirkySite(t, q).URL, Username: "alice", Password: "pw-secret-123",
				Username2: "mallory", Password2: "wrong", AuthedText: authed, Rate: 5000}
			rep, err := probe.Run(context.Background(), cfg)
			if !errors.Is(err, probe.ErrLogin) || rep != nil || !strings.Contains(err.Error(), "second account") {
				t.Errorf("%+v, text %q: Run = %v, %v; want a login error about the second account", q, authed, rep, err)
			}
		}
	}
}

func TestAuthenticatedFixation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		q       quirks
		second  bool
		want    []string
		outcome string
	}{
		{"kept id, second account", quirks{keepSignedIn: true}, true, []string{probe.FixationAuthenticatedID}, probe.OutcomeFailed},
		{"kept id, no second account", quirks{keepSignedIn: true}, false, nil, probe.OutcomeSkipped},
		{"new id at login", quirks{}, true, nil, probe.OutcomePassed},
		{"kept id, but no login form for a signed-in browser", quirks{keepSignedIn: true, noFormSigned: true}, true, nil, probe.OutcomePassed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := probe.Config{Target: quirkySite(t, tc.q).URL, Username: "alice", Password: "pw-secret-123",
				AuthedText: "Profile of alice", Rate: 5000}
			if tc.second {
				cfg.Username2, cfg.Password2 = "mallory", "pw-mallory-789"
			}
			rep, err := probe.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(rep); !slices.Equal(got, tc.want) {
				t.Fatalf("findings = %v, want %v", got, tc.want)
			}
			i := slices.IndexFunc(rep.Checks, func(c probe.Check) bool { return c.ID == probe.FixationAuthenticatedID })
			if i < 0 || rep.Checks[i].Outcome != tc.outcome {
				t.Fatalf("checks = %+v, want %s %s", rep.Checks, probe.FixationAuthenticatedID, tc.outcome)
			}
			if tc.outcome == probe.OutcomeSkipped && !strings.Contains(rep.Checks[i].Why, "--user2") {
				t.Errorf("skipped without saying how to run it: %q", rep.Checks[i].Why)
			}
			if tc.q.noFormSigned && !strings.Contains(rep.Checks[i].Why, "no login form") {
				t.Errorf("passed without saying the attack could not be played: %q", rep.Checks[i].Why)
			}
			for _, f := range rep.Findings {
				if len(f.Evidence) < 3 || !strings.Contains(f.Detail, "mallory") {
					t.Errorf("finding %+v lacks its story", f)
				}
				for _, s := range f.Evidence {
					if strings.Contains(s.Request, "pw-mallory-789") || strings.Contains(s.Request, "pw-secret-123") {
						t.Errorf("a password is in the evidence: %q", s.Request)
					}
				}
			}
		})
	}
}

// Past the quick default, the sample goes through randomness tests: they
// catch tokens that the per-position estimate takes for strong, such as
// 112 random bits followed by their CRC-32 (every position varies, but 32
// of the 144 bits are a function of the others), and pass random ids.
func TestLargeTokenSample(t *testing.T) {
	crc := func() string {
		b := make([]byte, 14)
		rand.Read(b)
		return hex.EncodeToString(binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b)))
	}
	for _, tc := range []struct {
		name    string
		token   func() string
		samples int
		want    []string
	}{
		{"CRC-32 after 112 random bits, quick sample", crc, 20, nil},
		{"CRC-32 after 112 random bits, 600 samples", crc, 600, []string{probe.WeakToken}},
		{"256 random bits, 600 samples", func() string { return randomHex(32) }, 600, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := quirkySite(t, quirks{token: tc.token})
			rep, err := probe.Run(context.Background(), probe.Config{Target: srv.URL, Username: "alice", Password: "pw-secret-123",
				AuthedText: "Profile of alice", Rate: 50000, TokenSamples: tc.samples, MaxRequests: 8*tc.samples + 150, Significance: 0.001})
			if err != nil {
				t.Fatal(err)
			}
			// The budget the probe asks for covers logging every session
			// out at the end.
			if rep.LeftSignedIn != 0 {
				t.Errorf("%d sessions left signed in: %s", rep.LeftSignedIn, rep.LeftSignedInWhy)
			}
			if got := ids(rep); !slices.Equal(got, tc.want) {
				t.Fatalf("findings = %v, want %v", got, tc.want)
			}
			if tc.samples > 20 && !strings.Contains(rep.TokenTests, "Effective entropy") {
				t.Errorf("token tests = %q, want their summary", rep.TokenTests)
			}
			if len(tc.want) > 0 && !strings.Contains(rep.Findings[0].Detail, "significance") {
				t.Errorf("detail %q lacks the tests' summary", rep.Findings[0].Detail)
			}
		})
	}
	// A sample larger than the request budget allows is refused up front.
	_, err := probe.Run(context.Background(), probe.Config{Target: "http://127.0.0.1:1", Username: "alice", Password: "x", TokenSamples: 1000})
	if !errors.Is(err, probe.ErrConfig) || !strings.Contains(err.Error(), "--max-requests") {
		t.Errorf("1000 samples in the default budget: %v", err)
	}
}
