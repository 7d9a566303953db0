package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/connectbook/connectbook/probe"
)

const probeUsage = `Usage:
  connectbook probe --target URL --user U [--password P] [flags]
  connectbook probe --target URL --field name=value [--field ...] --authed-text T [flags]

Runs session attacks against a site you are allowed to test, logging in with
an account of yours: a planted session id accepted at login, an id issued
before login still valid after it, a session accepted from the URL,
guessable tokens, a token that works after logout, missing cookie flags,
and with --idle-wait a session that never expires when unused.

Without --password, the password is read from CONNECTBOOK_PROBE_PASSWORD, or
asked for on the terminal, or else read from the first line of standard input.

Exit status: 0 nothing found, 1 findings, 2 the probe could not run.
`

// fieldFlags collects repeated --field name=value flags.
type fieldFlags map[string]string

func (f fieldFlags) String() string { return "" }

func (f fieldFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	f[name] = value
	return nil
}

type probeFlags struct {
	cfg      probe.Config
	fields   fieldFlags
	json     bool
	insecure bool
	timeout  time.Duration
}

func (f *probeFlags) register(fs *flag.FlagSet) {
	f.fields = fieldFlags{}
	fs.StringVar(&f.cfg.Target, "target", "", "the site's base URL, such as https://example.com (required)")
	fs.StringVar(&f.cfg.Username, "user", "", "the account to log in with")
	fs.StringVar(&f.cfg.Password, "password", "", "its password (see above for other ways to give it)")
	fs.Var(f.fields, "field", "a login form field as name=value, repeatable; overrides what the form holds")
	fs.StringVar(&f.cfg.LoginPath, "login-path", "/login", "where the login form is")
	fs.StringVar(&f.cfg.AuthedPath, "authed-path", "/profile", "a page only a signed-in user sees")
	fs.StringVar(&f.cfg.AuthedText, "authed-text", "", "text on that page when signed in (default: the username)")
	fs.StringVar(&f.cfg.LogoutPath, "logout-path", "", "the logout form's action or link (default: found on the signed-in page)")
	fs.DurationVar(&f.cfg.IdleWait, "idle-wait", 0, "also check that a session unused this long is gone, e.g. 31m")
	fs.IntVar(&f.cfg.TokenSamples, "samples", 20, "fresh tokens to collect for the weak-token check (at least 20)")
	fs.IntVar(&f.cfg.MaxRequests, "max-requests", 500, "the most requests to send")
	fs.Float64Var(&f.cfg.Rate, "rate", 20, "the most requests per second")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Second, "how long to wait for each response")
	fs.BoolVar(&f.insecure, "insecure", false, "accept any TLS certificate (for a test site with a self-signed one)")
	fs.BoolVar(&f.json, "json", false, "write the report as JSON")
}

func probeCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f probeFlags
	fs := newFlagSet("probe", probeUsage, stderr)
	f.register(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "connectbook probe: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if f.cfg.Target == "" {
		fmt.Fprintln(stderr, "connectbook probe: --target is required")
		return 2
	}
	if f.cfg.Username != "" && f.cfg.Password == "" {
		f.cfg.Password = os.Getenv("CONNECTBOOK_PROBE_PASSWORD")
		if f.cfg.Password == "" {
			pw, _, err := readSecret(ctx, stdin, stderr, fmt.Sprintf("Password for %s at %s: ", f.cfg.Username, f.cfg.Target))
			var intr *interruptedError
			if errors.As(err, &intr) {
				fmt.Fprintf(stderr, "connectbook probe: %v\n", err)
				return intr.exitCode()
			}
			f.cfg.Password = pw
		}
		if f.cfg.Password == "" {
			fmt.Fprintln(stderr, "connectbook probe: no password: pass --password, set CONNECTBOOK_PROBE_PASSWORD, or write it to standard input")
			return 2
		}
	}
	f.cfg.Fields = f.fields
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if f.insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	f.cfg.Client = &http.Client{Transport: tr, Timeout: f.timeout}
	if file, ok := stderr.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		f.cfg.Progress = func(msg string) { fmt.Fprintf(stderr, "· %s\n", msg) }
	}

	rep, err := probe.Run(ctx, f.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "connectbook probe: %v\n", err)
		return 2
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "connectbook probe: writing the report: %v\n", err)
		return 2
	}
	if len(rep.Findings) > 0 {
		return 1
	}
	return 0
}
