package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/lab"
)

var labHelp = help{
	name:     "lab",
	synopsis: []string{"connectbook lab --variant V [--addr 127.0.0.1:8081]"},
	about: `Serves a deliberately vulnerable replica of ConnectBook, for training and for
trying the probe against. It listens on loopback only. Every variant has the
users alice (password123) and bob (securepassword).

Variants:
` + labVariants(),
}

func labVariants() string {
	var b strings.Builder
	for _, v := range lab.Variants {
		fmt.Fprintf(&b, "  %-10s %s\n", v, lab.Describe(v))
	}
	return b.String()
}

// variantChoice lists the variants as a choice: "seed1, seed2 or adopt".
func variantChoice() string {
	n := len(lab.Variants)
	if n < 2 {
		return strings.Join(lab.Variants, "")
	}
	return strings.Join(lab.Variants[:n-1], ", ") + " or " + lab.Variants[n-1]
}

func labCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("lab", &labHelp)
	variant := f.String("variant", "", "the variant to serve (required; see above)")
	addr := f.String("addr", "127.0.0.1:8081", "loopback address to listen on")
	if code, stop := f.parse(args, stdout, stderr); stop {
		return code
	}
	switch {
	case f.NArg() > 0:
		return f.misuse(stderr, "unexpected argument %q", f.Arg(0))
	case *variant == "":
		return f.misuse(stderr, "--variant is required: %s", variantChoice())
	case !slices.Contains(lab.Variants, *variant):
		return f.misuse(stderr, "unknown --variant %q: use %s", *variant, variantChoice())
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
