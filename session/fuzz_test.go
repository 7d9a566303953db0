package session_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/bindtest"
)

// FuzzMiddleware feeds arbitrary Cookie headers, query strings, paths and
// User-Agents through the middleware. Whatever the input, the request is
// answered 200 by the handler (never a panic or a 5xx), it is authenticated
// only when the header carries the one valid token exactly once, no
// Set-Cookie line carries the token, and a refused-token marker holds one of
// its three forms.
//
//	go test -fuzz FuzzMiddleware ./session/
func FuzzMiddleware(f *testing.F) {
	e := newEnv(f, session.Options{OnEvent: func(_ context.Context, _ session.Event) {}})
	tok := e.login()
	name := e.m.CookieName()
	markerRE := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `-refused=(unknown-[0-9a-f]{12}|malformed|duplicate);`)
	// The middleware alone, without a mux that would redirect odd paths.
	h := e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "user="+session.UserID(r.Context()))
	}))
	for _, seed := range []struct{ cookie, query string }{
		{name + "=" + tok, ""},
		{name + "=" + tok + "; " + name + "=" + tok, ""},
		{"a=b; " + name + "=" + tok + "; c=d", "session_id=" + tok},
		{name + "=" + tok[:42], ""},
		{name + `="` + tok + `"`, ""},
		{name + "=", "jsessionid=x;sid=%zz"},
		{";;; ;" + name, "%"},
		{name + "=\xff\xfe" + tok[2:], "a=\x00"},
		{strings.Repeat(name+"=x;", 100), strings.Repeat("&", 100)},
	} {
		f.Add(seed.cookie, seed.query, "/whoami;jsessionid=1", "Mozilla/5.0")
	}
	f.Add(name+"="+tok, "", "/%zz;SID=", "\xff\x00"+strings.Repeat("é", 600))
	f.Fuzz(func(t *testing.T, cookie, query, path, ua string) {
		r := httptest.NewRequest("GET", "/whoami", nil)
		r.URL.RawQuery = query
		r.URL.Path, r.URL.RawPath = path, ""
		r.Header.Set("Cookie", cookie)
		r.Header.Set("User-Agent", ua)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d for cookie %q query %q", w.Code, cookie, query)
		}
		for _, line := range w.Header()["Set-Cookie"] {
			if strings.Contains(line, tok) {
				t.Fatalf("Set-Cookie %q carries the token", line)
			}
			if strings.HasPrefix(line, name+"-refused=") && !markerRE.MatchString(line) {
				t.Fatalf("marker %q for cookie header %q", line, cookie)
			}
		}
		user := strings.TrimPrefix(w.Body.String(), "user=")
		if user == "" {
			return
		}
		if user != "alice" {
			t.Fatalf("authenticated as %q", user)
		}
		if n := strings.Count(cookie, tok); n != 1 || strings.Count(cookie, name+"=") != 1 {
			t.Fatalf("authenticated by cookie header %q", cookie)
		}
	})
}

// FuzzBinding feeds arbitrary proofs, session identifiers and paths to the
// device binding endpoints of a session whose key the fuzzer does not
// hold. Whatever the input, the answer is a 2xx or 4xx (never a panic or a
// 5xx), the session is never bound to another key, and no refresh
// succeeds: no bound cookie is ever set.
//
//	go test -fuzz FuzzBinding ./session/
func FuzzBinding(f *testing.F) {
	e := newEnv(f, session.Options{OnEvent: func(_ context.Context, _ session.Event) {}})
	w := e.serve(httptest.NewRequest("POST", "/login", nil))
	var tok string
	for _, c := range w.Result().Cookies() {
		if c.Name == e.m.CookieName() {
			tok = c.Value
		}
	}
	reg, err := bindtest.ParseRegistration(w.Header().Get("Secure-Session-Registration"))
	if err != nil {
		f.Fatal(err)
	}
	key := bindtest.NewES256()
	bind := httptest.NewRequest("POST", reg.Path, nil)
	bind.Header.Set("Cookie", e.m.CookieName()+"="+tok)
	bind.Header.Set("Secure-Session-Response", key.Proof(reg.Challenge, true))
	if w := e.serve(bind); w.Code != http.StatusOK {
		f.Fatalf("registration: %d %s", w.Code, w.Body)
	}
	id, _ := session.IDOfToken(tok)
	s, err := e.st.Find(context.Background(), id)
	if err != nil || !s.Bound() {
		f.Fatalf("not bound: %v", err)
	}
	other := bindtest.NewES256()
	for _, seed := range []string{
		key.Proof(reg.Challenge, true), // used already
		other.Proof(reg.Challenge, true),
		other.Proof("AAAA", false),
		bindtest.Unsigned(map[string]any{"alg": "none", "typ": "dbsc+jwt"}, reg.Challenge),
		"a.b.c", "..", "\x00", `"` + strings.Repeat("e", 9000) + `"`, "eyJ9.eyJ9.", "é\xff",
	} {
		f.Add("refresh", seed, s.Handle.String())
		f.Add("register", seed, "")
	}
	f.Fuzz(func(t *testing.T, path, proof, sid string) {
		r := httptest.NewRequest("POST", "/dbsc/register", nil)
		r.URL.Path = "/dbsc/" + path
		r.Header.Set("Cookie", e.m.CookieName()+"="+tok)
		r.Header["Secure-Session-Response"] = []string{proof}
		r.Header["Sec-Secure-Session-Id"] = []string{sid}
		w := httptest.NewRecorder()
		e.m.Middleware(http.NotFoundHandler()).ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q, proof %q", w.Code, path, proof)
		}
		for _, line := range w.Header()["Set-Cookie"] {
			if strings.HasPrefix(line, e.m.CookieName()+"-bound=") {
				t.Fatalf("a bound cookie for proof %q: %q", proof, line)
			}
		}
		now, err := e.st.Find(context.Background(), s.ID)
		if err != nil || now.BindKey != s.BindKey {
			t.Fatalf("the session's key changed or it is gone: %v", err)
		}
	})
}
