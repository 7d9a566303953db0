package cli

import (
	"bytes"
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
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/connectbook/connectbook/probe"
)

var probeHelp = help{
	name: "probe",
	synopsis: []string{
		"connectbook probe --target URL --user U [--password P] [flags]",
		"connectbook probe --target URL --field name=value [--field ...] --authed-text T [flags]",
	},
	about: `Runs session attacks against a site you are allowed to test, logging in with
an account of yours: a planted session id accepted at login, an id issued
before login still valid after it, a session accepted from the URL,
guessable tokens, a token that works after logout, missing cookie flags,
a cookie shared with subdomains or kept for days, with --user2 a signed-in
session's token kept when another user signs in on that browser, and with
--idle-wait a session that never expires when unused. When the login path
shows no form, the probe looks for it on the home page and behind its
sign-in links.

Without --password, the password is read from CONNECTBOOK_PROBE_PASSWORD, or
asked for on the terminal, or else read from the first line of standard input.

The report goes to standard output, as text or with --json as JSON; --html
and --sarif also write it to a file, as a self-contained HTML page and as
SARIF 2.1.0 for CI systems that show a scanner's findings. Both files are
written whatever the outcome, saying why when the probe could not run.

Exit status: 0 nothing found (or nothing as severe as --fail-on), 1 findings,
2 the probe could not run (or a report could not be written).
`,
}

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
	html     string
	sarif    string
	insecure bool
	timeout  time.Duration
	failOn   string
}

// severityRank orders severities for --fail-on.
var severityRank = map[string]int{"low": 1, "medium": 2, "high": 3}

func (f *probeFlags) register(fs *flag.FlagSet) {
	f.fields = fieldFlags{}
	fs.StringVar(&f.cfg.Target, "target", "", "the site's base URL, such as https://example.com (required)")
	fs.StringVar(&f.cfg.Username, "user", "", "the account to log in with")
	fs.StringVar(&f.cfg.Password, "password", "", "its password (see above for other ways to give it)")
	fs.StringVar(&f.cfg.Username2, "user2", "", "a second account of yours, for fixation by a signed-in session (checked only with it)")
	fs.StringVar(&f.cfg.Password2, "password2", "", "its password (or CONNECTBOOK_PROBE_PASSWORD2)")
	fs.Var(f.fields, "field", "a login form field as `name=value`, repeatable; overrides what the form holds")
	fs.StringVar(&f.cfg.LoginPath, "login-path", "/login", "where the login form is")
	fs.StringVar(&f.cfg.AuthedPath, "authed-path", "/profile", "a page only a signed-in user sees")
	fs.StringVar(&f.cfg.AuthedText, "authed-text", "", "text on that page when signed in (default: the username)")
	fs.StringVar(&f.cfg.LogoutPath, "logout-path", "", "the logout form's action or link (default: found on the signed-in page)")
	fs.DurationVar(&f.cfg.IdleWait, "idle-wait", 0, "also check that a session unused this long is gone, e.g. 31m")
	fs.IntVar(&f.cfg.TokenSamples, "samples", 20, "fresh tokens to collect for the weak-token check: 20 (quick) to 5000; past 20 they also go through randomness tests")
	fs.Float64Var(&f.cfg.Significance, "significance", 0.01, "the significance level of the token randomness tests, over all of them together")
	fs.IntVar(&f.cfg.MaxRequests, "max-requests", 500, "the most requests to send")
	fs.Float64Var(&f.cfg.Rate, "rate", 20, "the most requests per second")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Second, "how long to wait for each response")
	fs.BoolVar(&f.insecure, "insecure", false, "accept any TLS certificate (for a test site with a self-signed one)")
	fs.BoolVar(&f.json, "json", false, "write the report as JSON")
	fs.StringVar(&f.html, "html", "", "also write the report to `FILE` as a self-contained HTML page")
	fs.StringVar(&f.sarif, "sarif", "", "also write the report to `FILE` as SARIF 2.1.0, for CI")
	fs.StringVar(&f.failOn, "fail-on", "low", "the least severity of a finding that makes the exit status 1: low, medium or high")
}

func probeCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f probeFlags
	fs := newFlags("probe", &probeHelp)
	f.register(fs.FlagSet)
	if code, stop := fs.parse(args, stdout, stderr); stop {
		return code
	}
	if fs.NArg() > 0 {
		return fs.misuse(stderr, "unexpected argument %q", fs.Arg(0))
	}
	if f.cfg.Target == "" {
		return fs.misuse(stderr, "--target is required")
	}
	if severityRank[f.failOn] == 0 {
		fmt.Fprintf(stderr, "connectbook probe: --fail-on is low, medium or high, not %q\n", f.failOn)
		return 2
	}
	for _, file := range []struct{ flag, path string }{{"--html", f.html}, {"--sarif", f.sarif}} {
		if file.path == "-" {
			fmt.Fprintf(stderr, "connectbook probe: %s needs a file name (the report itself goes to standard output)\n", file.flag)
			return 2
		}
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
	if f.cfg.Username2 != "" && f.cfg.Password2 == "" {
		f.cfg.Password2 = os.Getenv("CONNECTBOOK_PROBE_PASSWORD2")
		if f.cfg.Password2 == "" {
			fmt.Fprintln(stderr, "connectbook probe: --user2 needs its password: pass --password2 or set CONNECTBOOK_PROBE_PASSWORD2")
			return 2
		}
	}
	if f.cfg.Username2 != "" && f.cfg.Username2 == f.cfg.Username {
		fmt.Fprintln(stderr, "connectbook probe: --user2 must be another account than --user")
		return 2
	}
	f.cfg.Fields = f.fields
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if f.insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	f.cfg.Client = &http.Client{Transport: tr, Timeout: f.timeout}
	file, ok := stderr.(*os.File)
	progress := newProgressPrinter(stderr, ok && term.IsTerminal(int(file.Fd())))
	f.cfg.Progress = progress.print

	rep, err := probe.Run(ctx, f.cfg)
	progress.stop()
	if err != nil {
		fmt.Fprintf(stderr, "connectbook probe: %v\n", err)
		f.writeFiles(stderr, func(w io.Writer) error { return probe.WriteFailedHTML(w, f.cfg.Target, err) },
			func(w io.Writer) error { return probe.WriteFailedSARIF(w, f.cfg.Target, err) })
		return 2
	}
	if !f.writeFiles(stderr, rep.WriteHTML, rep.WriteSARIF) {
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
	for _, finding := range rep.Findings {
		if severityRank[finding.Severity] >= severityRank[f.failOn] {
			return 1
		}
	}
	return 0
}

// writeFiles writes the --html and --sarif files asked for, and reports
// whether that went well.
func (f *probeFlags) writeFiles(stderr io.Writer, html, sarif func(io.Writer) error) bool {
	ok := true
	for _, file := range []struct {
		path  string
		write func(io.Writer) error
	}{{f.html, html}, {f.sarif, sarif}} {
		if file.path == "" {
			continue
		}
		var buf bytes.Buffer
		err := file.write(&buf)
		if err == nil {
			err = os.WriteFile(file.path, buf.Bytes(), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "connectbook probe: writing the report: %v\n", err)
			ok = false
		}
	}
	return ok
}

// idleWaitStart is how the probe says it starts the idle wait, before the
// wait itself.
const idleWaitStart = "logging in, then leaving the session unused for "

// progressPrinter prints what the probe is doing. On a terminal it prints
// every step, and counts down the idle wait on one line rewritten every
// second; elsewhere (a CI log) it prints only the idle wait, a line a
// minute, so that a long wait does not look like a hang.
type progressPrinter struct {
	w   io.Writer
	tty bool
	now func() time.Time
	// ticker ticks every d until stopped.
	ticker func(d time.Duration) (<-chan time.Time, func())

	mu       sync.Mutex
	quit     chan struct{} // closes to end the countdown
	finished chan struct{} // closed when the countdown has ended
}

func newProgressPrinter(w io.Writer, tty bool) *progressPrinter {
	return &progressPrinter{w: w, tty: tty, now: time.Now, ticker: func(d time.Duration) (<-chan time.Time, func()) {
		t := time.NewTicker(d)
		return t.C, t.Stop
	}}
}

// print shows one progress message, ending any countdown.
func (p *progressPrinter) print(msg string) {
	p.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	rest, idle := strings.CutPrefix(msg, idleWaitStart)
	if p.tty || idle {
		fmt.Fprintf(p.w, "· %s\n", msg)
	}
	if !idle {
		return
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d <= 0 {
		return
	}
	p.quit, p.finished = make(chan struct{}), make(chan struct{})
	now := p.now()
	go p.countdown(now, now.Add(d), p.quit, p.finished)
}

// countdown shows the time left until end, from now and at every tick,
// until quit closes.
func (p *progressPrinter) countdown(now, end time.Time, quit, finished chan struct{}) {
	defer close(finished)
	every := time.Minute
	if p.tty {
		every = time.Second
	}
	ticks, stop := p.ticker(every)
	defer stop()
	for {
		left := max(end.Sub(now), 0)
		if p.tty {
			fmt.Fprintf(p.w, "\r\033[K  idle wait: %s left", left.Round(time.Second))
		} else if left > 0 {
			fmt.Fprintf(p.w, "  idle wait: %s left\n", roughly(left))
		}
		select {
		case <-quit:
			if p.tty {
				fmt.Fprint(p.w, "\r\033[K")
			}
			return
		case now = <-ticks:
		}
	}
}

// roughly writes d for a line a minute: whole minutes from two minutes
// up, else seconds.
func roughly(d time.Duration) time.Duration {
	if d >= 2*time.Minute {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

// stop ends the countdown, if any, and waits until it has.
func (p *progressPrinter) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quit != nil {
		close(p.quit)
		<-p.finished
		p.quit, p.finished = nil, nil
	}
}
