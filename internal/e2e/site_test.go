package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/testlog"
)

// site is ConnectBook, built as production builds it, served over HTTPS on
// loopback: the session cookie is __Host- and Secure.
type site struct {
	URL   string
	clock *clock
	App   *app.App
	// SPKI is the base64 SHA-256 of the certificate's public key, for
	// Chromium's --ignore-certificate-errors-spki-list.
	SPKI string
	// Client is an HTTP client that trusts the site's certificate.
	Client *http.Client
}

// startSite opens the app on a fresh SQLite database and serves it until
// the test ends. The app's log is shown only when the test fails.
func startSite(t *testing.T) *site {
	t.Helper()
	return startSiteWith(t, nil)
}

// startSiteWith is startSite with the app's options changed by set.
func startSiteWith(t *testing.T, set func(*app.Options)) *site {
	t.Helper()
	logs := &testlog.Buffer{}
	clk := &clock{}
	opts := app.Options{
		DB:     filepath.Join(t.TempDir(), "connectbook.db"),
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		TLS:    true,
		Now:    clk.Now,
		// Cheap argon2id: the race detector slows hashing tenfold.
		Hasher: auth.NewHasherLimits(auth.Params{Memory: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2, 8, 3*time.Second),
	}
	if set != nil {
		set(&opts)
	}
	a, err := app.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("app.Open: %v", err)
	}
	srv := httptest.NewUnstartedServer(a.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close()
		t.Fatalf("listen: %v", err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(func() {
		srv.Close()
		if err := a.Close(); err != nil {
			t.Errorf("closing the app: %v", err)
		}
		if t.Failed() {
			t.Logf("the app's log:\n%s", logs)
		}
	})
	spki := sha256.Sum256(srv.Certificate().RawSubjectPublicKeyInfo)
	return &site{URL: srv.URL, clock: clk, App: a, SPKI: base64.StdEncoding.EncodeToString(spki[:]), Client: srv.Client()}
}

// clock is the app's clock: the real time, moved forward by what the test
// skips.
type clock struct{ skipped atomic.Int64 }

func (c *clock) Now() time.Time { return time.Now().Add(time.Duration(c.skipped.Load())) }

// Skip moves the clock forward by d.
func (c *clock) Skip(d time.Duration) { c.skipped.Add(int64(d)) }
