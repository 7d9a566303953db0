package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/lab"
)

const labUsage = `Usage:
  connectbook lab --variant V [--addr 127.0.0.1:8081]

Serves a deliberately vulnerable replica of ConnectBook, for training and for
trying the probe against. It listens on loopback only. Every variant has the
users alice (password123) and bob (securepassword).

Variants:
`

func labHelp() string {
	var b strings.Builder
	b.WriteString(labUsage)
	for _, v := range lab.Variants {
		fmt.Fprintf(&b, "  %-10s %s\n", v, lab.Describe(v))
	}
	return b.String()
}

func labCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("lab", labHelp(), stderr)
	variant := fs.String("variant", "", "the variant to serve (required)")
	addr := fs.String("addr", "127.0.0.1:8081", "loopback address to listen on")
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "connectbook lab: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	h, err := lab.New(*variant)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook lab: %v\n", err)
		return 2
	}
	ln, err := listenLoopback(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook lab: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, `
  ************************************************************************
  *  WARNING: DELIBERATELY VULNERABLE APPLICATION                        *
  *  ConnectBook lab, variant %-10s                                 *
  *  Its sessions can be fixed, guessed or replayed on purpose.          *
  *  It listens on loopback only; never expose it or reuse its code.     *
  ************************************************************************

%s: %s
Serving http://%s (users alice/password123 and bob/securepassword); Ctrl-C stops it.
`, *variant, *variant, lab.Describe(*variant), ln.Addr())

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintf(stderr, "connectbook lab: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		fmt.Fprintf(stderr, "connectbook lab: %v\n", err)
		return 1
	}
	return 0
}

// listenLoopback listens on addr if, and only if, it is a loopback
// address; "localhost" means 127.0.0.1, so that no resolver decides.
func listenLoopback(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %v", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("refusing --addr %q: the lab is deliberately vulnerable and listens only on a loopback address, such as 127.0.0.1:%s or [::1]:%s", addr, port, port)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), port))
	if err != nil {
		return nil, err
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, errors.New("the listener is not on a loopback address")
	}
	return ln, nil
}
