package web_test

import (
	"net/http"
	"net/http/httptest"
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
