package probe_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/testlog"
	"github.com/connectbook/connectbook/probe"
)

// The apps in testdata/frameworks are logins written on real frameworks
// (Flask, Django, PHP, Rails, Express, Go session libraries) the way their
// tutorials write them; the probe must find exactly what is wrong with
// each. Each needs its runtime; without it the test skips and names it.

// framework is one app: how to start it, and what the probe must find.
type framework struct {
	name    string
	dir     string   // under testdata/frameworks
	command []string // run in dir; PORT is in the environment
	needs   func() (string, bool)
	// findings are the ids the probe must report, and skipped the checks
	// it must leave unjudged.
	findings, skipped []string
}

var frameworks = []framework{
	{name: "Flask signed cookie", dir: "flask", command: []string{"python3", "app.py"}, needs: python("flask", "python3-flask"),
		findings: []string{probe.CookieFlags, probe.CookieScope, probe.LogoutReplay},
		skipped:  []string{probe.WeakToken}},
	{name: "Django database sessions", dir: "django", command: []string{"python3", "app.py", "default"}, needs: python("django", "python3-django"),
		findings: []string{probe.CookieFlags, probe.CookieScope}},
	{name: "Django signed-cookie sessions", dir: "django", command: []string{"python3", "app.py", "signed"}, needs: python("django", "python3-django"),
		findings: []string{probe.CookieFlags, probe.CookieScope, probe.LogoutReplay},
		skipped:  []string{probe.WeakToken}},
	{name: "PHP native sessions, defaults", dir: "php", command: phpServer("naive.php"), needs: program("php", "php-cli"),
		findings: []string{probe.CookieFlags, probe.CookieScope, probe.FixationAdoptedID, probe.FixationAuthenticatedID, probe.FixationPreauthID}},
	{name: "PHP native sessions, hardened", dir: "php", command: phpServer("hardened.php"), needs: program("php", "php-cli"),
		findings: []string{probe.CookieFlags, probe.CookieScope}},
	{name: "Express express-session", dir: "express", command: []string{"node", "app.js", "session"}, needs: nodeModules,
		findings: []string{probe.CookieFlags, probe.CookieScope, probe.FixationAuthenticatedID, probe.FixationPreauthID}},
	{name: "Express cookie-session", dir: "express", command: []string{"node", "app.js", "cookie"}, needs: nodeModules,
		findings: []string{probe.CookieFlags, probe.CookieScope, probe.LogoutReplay},
		skipped:  []string{probe.WeakToken}},
	{name: "Rails cookie store", dir: "rails", command: []string{"ruby", "app.rb"}, needs: ruby,
		findings: []string{probe.CookieFlags, probe.CookieScope, probe.LogoutReplay},
		skipped:  []string{probe.WeakToken}},
	{name: "Go scs", dir: "gosessions", command: []string{"go", "run", ".", "scs"}, needs: program("go", "Go"),
		findings: []string{probe.CookieFlags, probe.CookieScope, probe.FixationAuthenticatedID}},
	{name: "Go gorilla/sessions", dir: "gosessions", command: []string{"go", "run", ".", "gorilla"}, needs: program("go", "Go"),
		findings: []string{probe.CookieFlags, probe.CookieScope, probe.LogoutReplay},
		skipped:  []string{probe.WeakToken}},
}

func TestFrameworks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts apps on other runtimes; not in -short")
	}
	for _, fw := range frameworks {
		t.Run(fw.name, func(t *testing.T) {
			if why, ok := fw.needs(); !ok {
				t.Skip(why)
			}
			target := startApp(t, fw)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := probe.Run(ctx, probe.Config{Target: target,
				Username: "alice", Password: "pw-secret-123",
				Username2: "mallory", Password2: "pw-mallory-789",
				Rate: 200})
			if err != nil {
				t.Fatalf("the probe could not run: %v", err)
			}
			var skipped []string
			for _, c := range rep.Checks {
				if c.Outcome == probe.OutcomeSkipped && c.ID != probe.NoIdleTimeout {
					skipped = append(skipped, c.ID)
				}
			}
			slices.Sort(skipped)
			if got := ids(rep); !slices.Equal(got, fw.findings) || !slices.Equal(skipped, fw.skipped) {
				t.Errorf("findings %v, skipped %v; want findings %v, skipped %v\nchecks: %+v\nskipped: %q",
					got, skipped, fw.findings, fw.skipped, rep.Checks, rep.Skipped)
			}
			for _, f := range rep.Findings {
				t.Logf("%s: %s", f.ID, f.Detail)
			}
			if rep.LeftSignedIn != 0 && !slices.Contains(fw.findings, probe.LogoutReplay) {
				t.Errorf("%d sessions left signed in on a site whose logout works", rep.LeftSignedIn)
			}
		})
	}
}

// startApp starts fw on a free loopback port and waits until it answers.
func startApp(t *testing.T, fw framework) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var args []string
	for _, a := range fw.command {
		args = append(args, strings.ReplaceAll(a, "$PORT", fmt.Sprint(port)))
	}
	if args[0] == "python3" {
		args[0] = pythonWith(map[string]string{"flask": "flask", "django": "django"}[fw.dir])
	}
	dir := filepath.Join("testdata", "frameworks", fw.dir)
	if args[0] == "go" && args[1] == "run" {
		// Built first, so that the process killed at the end is the app.
		bin := filepath.Join(t.TempDir(), "app")
		build := exec.Command("go", "build", "-o", bin, args[2])
		build.Dir = dir
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build in %s: %v\n%s", dir, err, out)
		}
		args = append([]string{bin}, args[3:]...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	var out testlog.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s said:\n%s", args[0], out.String())
		}
	})
	target := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(90 * time.Second) // go run compiles first
	for {
		res, err := http.Get(target + "/login")
		if err == nil {
			res.Body.Close()
			return target
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before answering:\n%s", strings.Join(args, " "), out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on %s within 90 s:\n%s", strings.Join(args, " "), target, out.String())
		}
	}
}

// phpServer serves script with PHP's built-in server, on PHP's default
// session settings whatever the machine's php.ini says.
func phpServer(script string) []string {
	return []string{"php", "-n", "-d", "session.save_path=" + os.TempDir(), "-S", "127.0.0.1:$PORT", script}
}

// program needs an executable on the PATH, which package installs.
func program(name, pkg string) func() (string, bool) {
	return func() (string, bool) {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Sprintf("needs %s on the PATH (%s)", name, pkg), false
		}
		return "", true
	}
}

// python needs a Python 3 able to import module (Debian package pkg).
func python(module, pkg string) func() (string, bool) {
	return func() (string, bool) {
		if pythonWith(module) == "" {
			return fmt.Sprintf("needs python3 with %s (Debian: %s)", module, pkg), false
		}
		return "", true
	}
}

// pythonWith is the first Python 3 that can import module: the one on the
// PATH, or the system's (a version manager's may lack Debian's packages).
func pythonWith(module string) string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import "+module).Run() == nil {
			return py
		}
	}
	return ""
}

func ruby() (string, bool) {
	if err := exec.Command("ruby", "-e", `require "rails"; require "webrick"`).Run(); err != nil {
		return "needs ruby with Rails and WEBrick (Debian: ruby-rails, ruby-webrick)", false
	}
	return "", true
}

func nodeModules() (string, bool) {
	if _, err := exec.LookPath("node"); err != nil {
		return "needs node on the PATH (Node.js)", false
	}
	if _, err := os.Stat(filepath.Join("testdata", "frameworks", "express", "node_modules", "express-session")); err != nil {
		return "needs the Express apps' packages: run npm ci in probe/testdata/frameworks/express", false
	}
	return "", true
}
