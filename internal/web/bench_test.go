package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connectbook/connectbook/internal/testdb"
	"github.com/connectbook/connectbook/session"
)

// BenchmarkProfile measures a signed-in GET /profile through the whole
// handler, without the network.
func BenchmarkProfile(b *testing.B) {
	s := newServer(b, testdb.SQLite(b))
	s.addUser("alice", alicePW)
	br := s.browser()
	br.mustLogin("alice", alicePW)
	h := s.srv.Config.Handler
	r := httptest.NewRequest("GET", "https://example.test/profile", nil)
	r.Header.Set("Cookie", session.DefaultCookieName+"="+br.token())
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkProfileWithNotice is the signed-in page of a user who has a
// security notice to show (a sign-in from a new device, shown for two
// weeks).
func BenchmarkProfileWithNotice(b *testing.B) {
	s := newServer(b, testdb.SQLite(b))
	s.addUser("alice", alicePW)
	br := s.browser()
	br.ua = firefoxLinux
	br.mustLogin("alice", alicePW)
	other := s.browser()
	other.ua = chromeMac
	other.mustLogin("alice", alicePW)
	h := s.srv.Config.Handler
	r := httptest.NewRequest("GET", "https://example.test/profile", nil)
	r.Header.Set("Cookie", session.DefaultCookieName+"="+br.token())
	r.Header.Set("User-Agent", firefoxLinux)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if !strings.Contains(w.Body.String(), "Security notice") {
		b.Fatal("no notice on the page")
	}
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
