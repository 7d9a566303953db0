package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/connectbook/connectbook/internal/web"
	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/sqlitestore"
)

// env returns the value of a CONNECTBOOK_* variable, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", env("CONNECTBOOK_ADDR", "127.0.0.1:8080"), "listen address (CONNECTBOOK_ADDR)")
	dbPath := fs.String("db", env("CONNECTBOOK_DB", "connectbook.db"), "SQLite database file, created on first start (CONNECTBOOK_DB)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	db, err := sqlitestore.Open(*dbPath)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook: %v\n", err)
		return 1
	}
	defer db.Close()
	store, err := sqlitestore.New(ctx, db, sqlitestore.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "connectbook: %v\n", err)
		return 1
	}
	defer store.Close()
	sessions, err := session.New(store, session.Options{Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "connectbook: %v\n", err)
		return 1
	}
	go sessions.RunSweeper(ctx, time.Minute)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook: %v\n", err)
		return 1
	}
	srv := &http.Server{
		Handler:           web.New(web.Deps{Sessions: sessions, Logger: logger}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "ConnectBook is serving http://%s (database %s)\n", ln.Addr(), *dbPath)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "connectbook: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		fmt.Fprintf(stderr, "connectbook: shutdown: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "ConnectBook stopped")
	return 0
}
