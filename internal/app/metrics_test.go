package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connectbook/connectbook/internal/app"
)

// Without metrics nothing is counted, and the app works as with them: a
// sign-up, then signed-in pages.
func TestNoMetrics(t *testing.T) {
	a, err := app.Open(context.Background(), app.Options{DB: filepath.Join(t.TempDir(), "c.db"),
		Logger: slog.New(slog.DiscardHandler), NoMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Metrics != nil {
		t.Fatal("metrics made with NoMetrics")
	}
	h := a.Handler()
	cookies := map[string]*http.Cookie{}
	do := func(method, path string, form url.Values) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, "https://example.test"+path, strings.NewReader(form.Encode()))
		if form != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Origin", "https://example.test")
		}
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		for _, c := range w.Result().Cookies() {
			if c.MaxAge < 0 {
				delete(cookies, c.Name)
			} else {
				cookies[c.Name] = c
			}
		}
		return w
	}
	pw := "correct horse battery staple"
	if w := do("POST", "/signup", url.Values{"username": {"nomet"}, "password": {pw}, "password_confirm": {pw}}); w.Code != http.StatusSeeOther {
		t.Fatalf("sign-up: %d %s", w.Code, w.Body)
	}
	for range 3 {
		if w := do("GET", "/profile", nil); w.Code != 200 || !strings.Contains(w.Body.String(), "Welcome, nomet") {
			t.Fatalf("profile: %d", w.Code)
		}
	}
}
