package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"time"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/config"
	"github.com/connectbook/connectbook/internal/data"
)

// memoryLimit is the Go heap's soft limit unless GOMEMLIMIT says otherwise:
// it keeps a login flood's short-lived argon2 buffers from growing the
// process. Under it, the collector can run less often than the default
// (gcPercent, unless GOGC says otherwise): ConnectBook's live heap is a few
// megabytes, so the default would collect after every few hundred requests.
const (
	memoryLimit = 200 << 20
	gcPercent   = 400
)

var serveHelp = help{
	name: "serve",
	synopsis: []string{
		"connectbook serve [flags]",
		"connectbook [flags]",
	},
	about: `Serves the web app. Each flag can also be set with the environment variable
named after it (in parentheses); the flag wins over the variable. Plain HTTP
is served on loopback addresses only: elsewhere, serve HTTPS (--tls-cert and
--tls-key, or --tls-self-signed to try it out) or run behind a reverse proxy
that does (--behind-proxy).
`,
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, c, err := config.Flags(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook serve: %v\n", err)
		return 2
	}
	f := wrapFlags(fs, "serve", &serveHelp)
	if code, stop := f.parse(args, stdout, stderr); stop {
		return code
	}
	if f.NArg() > 0 {
		return f.misuse(stderr, "unexpected argument %q", f.Arg(0))
	}
	cfg := *c
	err = cfg.Validate()
	if err == nil {
		err = checkRedisURL(cfg.SessionStore)
	}
	if err != nil {
		fmt.Fprintf(stderr, "connectbook serve: %v\n", err)
		return 2
	}
	logs := newLogWriter(stderr)
	defer logs.Flush()
	logger := newLogger(cfg.LogFormat, config.LogLevels[cfg.LogLevel], logs)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(gcPercent)
		}
	}
	a, err := openApp(ctx, app.Options{
		DB: cfg.DB, SessionStore: cfg.SessionStore,
		IdleTimeout: cfg.IdleTimeout, AbsoluteTimeout: cfg.AbsoluteTimeout,
		ReauthWindow: cfg.ReauthWindow, MaxSessions: cfg.MaxSessions,
		RotationInterval: rotation(cfg.RotationInterval), NoDBSC: !cfg.DBSC, BoundCookieLifetime: cfg.BoundCookieLifetime,
		StoreTimeout: cfg.StoreTimeout, SignUpsPerHour: signUpLimit(cfg.SignUpsPerHour), NoMetrics: cfg.MetricsAddr == "",
		SignInsPerAccount: cfg.SignInsPerAccount, SignInsPerNetwork: cfg.SignInsPerNetwork,
		TLS: cfg.TLS(), BehindProxy: cfg.BehindProxy, Logger: logger,
	})
	if err != nil {
		fmt.Fprintf(stderr, "connectbook serve: %v\n", err)
		return 1
	}
	defer a.Close()

	var tlsConfig *tls.Config
	if cfg.TLS() {
		tlsConfig, err = loadTLS(cfg, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "connectbook serve: %v\n", err)
			return 1
		}
	}
	handler := a.Handler()
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Requests outlive the signal: Shutdown lets them finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook serve: %v\n", err)
		return 1
	}
	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		if metricsSrv, err = serveMetrics(cfg.MetricsListenAddr(), a, logger, stdout); err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "connectbook serve: %v\n", err)
			return 1
		}
		defer metricsSrv.Close()
	}
	// Connected and listening: now the admin commands may rely on it.
	if err := a.RecordStore(ctx); err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "connectbook serve: %v\n", err)
		return 1
	}

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	go a.Sessions.RunSweeper(bg, time.Minute)
	go housekeeping(bg, a, logger)

	scheme := "http"
	if cfg.TLS() {
		scheme = "https"
	}
	store := "the database"
	if cfg.SessionStore != "" {
		store = "Redis"
	}
	fmt.Fprintf(stdout, "ConnectBook is serving %s://%s (database %s, sessions in %s)\n", scheme, ln.Addr(), redactDSN(cfg.DB), store)
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "connectbook serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	// Draining: /readyz answers 503 while requests are still served, so
	// that a load balancer stops sending new ones before the listener
	// closes; then the requests in progress finish.
	a.Drain()
	if cfg.ShutdownDelay > 0 {
		fmt.Fprintf(stdout, "ConnectBook is shutting down: not ready, still serving for %v\n", cfg.ShutdownDelay)
		time.Sleep(cfg.ShutdownDelay)
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		fmt.Fprintf(stderr, "connectbook serve: shutdown: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "ConnectBook stopped")
	return 0
}

// serveMetrics serves the app's metrics at /metrics on addr, with the
// app's own bounds on slow clients.
func serveMetrics(addr string, a *app.App, logger *slog.Logger, stdout io.Writer) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "Metrics at http://%s/metrics\n", ln.Addr())
	go srv.Serve(ln)
	return srv, nil
}

// newLogger logs to w in format, its common lines through a flatHandler;
// a *logWriter is flushed after each warning or error.
func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	h = newFlatHandler(h, format == "json", w)
	if lw, ok := w.(*logWriter); ok {
		h = flushingHandler{h, lw, slog.LevelWarn}
	}
	return slog.New(h)
}

// eventRetention is how long the security event log keeps events, and
// notices and known devices are kept.
const eventRetention = account.ActivityRetention

// housekeeping forgets failed-login records that can no longer slow anyone
// down and events past their retention, and trims home timelines.
func housekeeping(ctx context.Context, st *app.App, logger *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			window := max(st.Auth.Account.Window, st.Auth.AccountIP.Window, st.Auth.IP.Window)
			if _, err := st.DB.PruneLoginFailures(ctx, time.Now().Add(-window)); err != nil && ctx.Err() == nil {
				logger.Error("pruning login failures", "err", err)
			}
			if _, err := st.DB.PruneEvents(ctx, time.Now().Add(-eventRetention)); err != nil && ctx.Err() == nil {
				logger.Error("pruning security events", "err", err)
			}
			if _, err := st.DB.PruneNotices(ctx, time.Now().Add(-eventRetention)); err != nil && ctx.Err() == nil {
				logger.Error("pruning notices", "err", err)
			}
			if _, err := st.DB.TrimTimelines(ctx, data.TimelinePosts); err != nil && ctx.Err() == nil {
				logger.Error("trimming home timelines", "err", err)
			}
		}
	}
}

// loadTLS loads the certificate, or makes a self-signed one.
func loadTLS(cfg config.Config, stdout io.Writer) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if cfg.TLSSelfSigned {
		cert, err = selfSigned()
		if err == nil {
			sum := sha256.Sum256(cert.Certificate[0])
			fmt.Fprintf(stdout, "Using a self-signed certificate made for this run (SHA-256 %s); browsers will warn about it.\n", hex.EncodeToString(sum[:]))
		}
	} else {
		cert, err = tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	}
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return serverTLS(cert), nil
}

// serverTLS is the TLS policy: TLS 1.3, or TLS 1.2 with only the suites that
// have both forward secrecy (ECDHE) and authenticated encryption (AES-GCM,
// ChaCha20-Poly1305). That refuses the CBC suites, whose MAC-then-encrypt
// design keeps giving padding-oracle and timing attacks (Lucky 13 and its
// successors), and RSA key exchange, where a key stolen later decrypts
// every recorded session. TLS 1.3's suites all qualify and are not
// configurable. Every browser of the last decade supports these.
func serverTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{
			// Go orders them itself. HTTP/2 requires an AES-128-GCM
			// suite among them.
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// selfSigned makes an ECDSA certificate for localhost, valid for a week.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"ConnectBook (self-signed)"}, CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// redactDSN hides a password in a database URL.
func redactDSN(dsn string) string {
	if !config.IsPostgresURL(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

// rotation maps --rotation-interval to the app's setting: 0 turns rotation
// off.
func rotation(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// signUpLimit maps --signups-per-hour to the app's setting: 0 is no limit.
func signUpLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
