package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// badValues are texts no field accepts, and one too large for any form.
var badValues = map[string]string{
	"NUL":            "ali\x00ce",
	"lone surrogate": "ab\xed\xa0\x80cd",
	"overlong UTF-8": "ab\xc0\xafcd",
	"invalid UTF-8":  "\xff\xfe",
	"escape":         "a\x1b[31mb",
	"1 MB":           strings.Repeat("é", 1<<19),
}

// TestBadInputEverywhere sends NUL bytes, lone surrogates, overlong UTF-8
// and megabyte fields to every form field and into paths and queries, on
// every backend: each gets a 4xx, nothing fails on the database (no error
// logged), and the security events they cause are stored.
func TestBadInputEverywhere(t *testing.T) {
	forEachBackend(t, map[string]func(*testing.T, *server){"bad_input": testBadInputEverywhere})
}

func testBadInputEverywhere(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	a := s.browserAs(firefoxLinux, "alice", alicePW)
	anon := s.browser()
	forms := []struct {
		signedIn bool
		path     string
		fields   url.Values
	}{
		{false, "/login", url.Values{"username": {"alice"}, "password": {alicePW}}},
		{false, "/signup", url.Values{"username": {"newbie"}, "password": {alicePW}, "password_confirm": {alicePW}}},
		{true, "/profile", url.Values{"display_name": {"Alice"}, "bio": {"hello"}}},
		{true, "/settings/password", url.Values{"current_password": {alicePW}, "password": {"x"}, "password_confirm": {"x"}}},
		{true, "/settings/reauth", url.Values{"password": {alicePW}, "next": {"/settings/sessions"}}},
		{true, "/settings/delete", url.Values{"confirm_username": {"bob"}, "password": {"wrong"}}},
		{true, "/settings/sessions/revoke-others", url.Values{"password": {"wrong"}}},
		{true, "/notices/1/dismiss", url.Values{"next": {"/"}}},
	}
	for _, f := range forms {
		for field := range f.fields {
			for what, bad := range badValues {
				form := url.Values{}
				for k, v := range f.fields {
					form[k] = v
				}
				form.Set(field, bad)
				b := anon
				if f.signedIn {
					b = a
					form.Set("csrf_token", a.csrf())
				}
				r := b.post(f.path, form)
				if r.StatusCode < 400 || r.StatusCode >= 500 {
					t.Errorf("POST %s with %s in %s: status %d, want a 4xx", f.path, what, field, r.StatusCode)
				}
			}
		}
	}
	// The form token itself, and field names.
	for what, bad := range badValues {
		if r := a.post("/profile", url.Values{"csrf_token": {bad}, "display_name": {"A"}}); r.StatusCode < 400 || r.StatusCode >= 500 {
			t.Errorf("POST /profile with %s as the form token: %d", what, r.StatusCode)
		}
		if r := a.post("/profile", url.Values{"csrf_token": {a.csrf()}, bad: {"x"}}); r.StatusCode < 400 || r.StatusCode >= 500 {
			t.Errorf("POST /profile with %s as a field name: %d", what, r.StatusCode)
		}
	}
	// Paths and queries.
	for _, p := range []string{"/u/%00", "/u/ali%00ce", "/u/%ED%A0%80", "/u/%C0%AF", "/%00", "/static/%00",
		"/settings/activity?before=%00", "/settings/activity?before=%ED%A0%80", "/login?next=%00", "/login?next=%C0%AF",
		"/settings/sessions/%00/revoke", "/u/" + strings.Repeat("a", 8000)} {
		r := a.get(p)
		if r.StatusCode >= 500 {
			t.Errorf("GET %s: status %d", p, r.StatusCode)
		}
	}
	// A refused cross-site request whose path holds a NUL and invalid
	// UTF-8 is recorded all the same.
	before := len(s.eventsOf("csrf_rejected"))
	for _, p := range []string{"/profile%00", "/settings/delete%ED%A0%80", "/%C0%AF"} {
		req, _ := http.NewRequest("POST", s.srv.URL+p, strings.NewReader("display_name=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if r := a.do(req); r.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", p, r.StatusCode)
		}
	}
	if n := len(s.eventsOf("csrf_rejected")) - before; n != 3 {
		t.Errorf("%d refused cross-site requests recorded, want 3", n)
	}
	// A NUL in the username at sign-in (the form refuses it), and in a
	// failed sign-in that reaches the throttle records: no database error.
	if r := s.browser().post("/login", url.Values{"username": {"ab\x00"}, "password": {"x"}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("NUL in the username: %d", r.StatusCode)
	}
	if _, err := s.st.Auth.Login(context.Background(), "mal\x00lory\xff", "password", "192.0.2.99"); err == nil {
		t.Error("a sign-in with a NUL in the username succeeded")
	} else if strings.Contains(err.Error(), "invalid byte") || strings.Contains(err.Error(), "encoding") {
		t.Errorf("the database refused the throttle record: %v", err)
	}
	if logged := s.log.String(); strings.Contains(logged, "level=ERROR") {
		t.Errorf("bad input caused errors:\n%s", logged)
	}
	// Bidi overrides and invisible characters in what others read.
	for _, v := range []url.Values{{"display_name": {"admin\u202Egnp.exe"}, "bio": {""}}, {"display_name": {"Alice"}, "bio": {"hi\u200B"}}} {
		v.Set("csrf_token", a.csrf())
		r := a.post("/profile", v)
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "invisible characters") {
			t.Errorf("profile %q: %d, want 422 saying why", v, r.StatusCode)
		}
	}
	// Alice is still signed in and her profile unchanged.
	if a.signedInAs() != "alice" {
		t.Fatal("alice was signed out")
	}
}
