//go:build linux

package deploy_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// unit is a systemd unit file's [Service] section: each key's values in
// order, and the Environment= assignments in order.
type unit struct {
	service map[string][]string
	env     [][2]string
}

func (u unit) get(key string) string {
	v := u.service[key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func readUnit(path string) (unit, error) {
	f, err := os.Open(path)
	if err != nil {
		return unit{}, err
	}
	defer f.Close()
	u := unit{service: map[string][]string{}}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			continue
		case strings.HasPrefix(line, "["):
			section = line
			continue
		}
		if section != "[Service]" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return unit{}, fmt.Errorf("%s: %q is not key=value", path, line)
		}
		u.service[k] = append(u.service[k], v)
		if k == "Environment" {
			words, err := shellWords(v)
			if err != nil {
				return unit{}, fmt.Errorf("%s: Environment=%s: %v", path, v, err)
			}
			for _, w := range words {
				name, value, _ := strings.Cut(w, "=")
				u.env = append(u.env, [2]string{name, value})
			}
		}
	}
	return u, sc.Err()
}

// systemdSeconds reads a systemd time span: "30", "30s", "1min 30s".
func systemdSeconds(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	s = strings.NewReplacer("min", "m", " ", "").Replace(s)
	return time.ParseDuration(s)
}

// The example units run serve as a user other than root, hardened, with
// settings serve accepts; stopping them lets serve drain (its shutdown
// delay, then up to 10 s for requests under way) before systemd would kill
// it; and systemd-analyze verify accepts them.
func TestSystemdUnits(t *testing.T) {
	for _, name := range []string{"connectbook.service", "connectbook@.service"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("systemd", name)
			u, err := readUnit(path)
			if err != nil {
				t.Fatal(err)
			}
			start := strings.Fields(u.get("ExecStart"))
			if len(start) < 2 || filepath.Base(start[0]) != "connectbook" || start[1] != "serve" {
				t.Errorf("ExecStart=%s: want /path/to/connectbook serve", u.get("ExecStart"))
			}
			if got := u.get("KillSignal"); got != "SIGTERM" {
				t.Errorf("KillSignal=%s, want SIGTERM (serve drains on it)", got)
			}
			if user := u.get("User"); (user == "" || user == "root" || user == "0") && u.get("DynamicUser") != "yes" {
				t.Errorf("User=%q and no DynamicUser=yes: the service would run as root", user)
			}
			for key, want := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes"} {
				if got := u.get(key); got != want {
					t.Errorf("%s=%q, want %s", key, got, want)
				}
			}
			env := map[string]string{}
			for _, kv := range u.env {
				env[kv[0]] = kv[1]
			}
			delay, err := time.ParseDuration(env["CONNECTBOOK_SHUTDOWN_DELAY"])
			if env["CONNECTBOOK_SHUTDOWN_DELAY"] == "" {
				delay, err = 0, nil
			}
			if err != nil {
				t.Fatalf("CONNECTBOOK_SHUTDOWN_DELAY=%s: %v", env["CONNECTBOOK_SHUTDOWN_DELAY"], err)
			}
			stop, err := systemdSeconds(u.get("TimeoutStopSec"))
			if err != nil {
				t.Fatalf("TimeoutStopSec=%s: %v", u.get("TimeoutStopSec"), err)
			}
			if stop <= delay+10*time.Second {
				t.Errorf("TimeoutStopSec=%v is not more than the shutdown delay (%v) + 10 s: systemd would kill serve while it drains", stop, delay)
			}
			if env["CONNECTBOOK_BEHIND_PROXY"] != "true" {
				t.Errorf("CONNECTBOOK_BEHIND_PROXY=%q: the unit is meant to run behind nginx", env["CONNECTBOOK_BEHIND_PROXY"])
			}
			bin := binary(t)
			t.Run("ServeAcceptsItsSettings", func(t *testing.T) { testUnitEnv(t, bin, u) })
			t.Run("SystemdAnalyzeVerify", func(t *testing.T) { verifyUnit(t, bin, name) })
		})
	}
}

// testUnitEnv runs the unit's ExecStart with its Environment= settings
// (a free port for its own and for %i, a database in the test's
// directory) and sees it serve.
func testUnitEnv(t *testing.T, bin string, u unit) {
	dir := t.TempDir()
	port := fmt.Sprint(freePort(t))
	anyPort := regexp.MustCompile(`:(\d+|%i)$`)
	env := []string{"PATH=/usr/bin:/bin", "CONNECTBOOK_DB=" + filepath.Join(dir, "connectbook.db")}
	for _, kv := range u.env {
		k, v := kv[0], kv[1]
		switch k {
		case "CONNECTBOOK_DB":
			v = filepath.Join(dir, "connectbook.db")
		case "CONNECTBOOK_ADDR":
			v = anyPort.ReplaceAllString(v, ":"+port)
		}
		env = append(env, k+"="+v)
	}
	args := strings.Fields(u.get("ExecStart"))[1:]
	for i, a := range args {
		args[i] = anyPort.ReplaceAllString(a, ":"+port)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out := &logBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill() // the unit's shutdown delay is not this test's business
		<-done
	}()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve with the unit's settings %v exited (%v):\n%s", env, err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if strings.Contains(out.String(), "ConnectBook is serving http://127.0.0.1:"+port) {
			return
		}
	}
	t.Fatalf("serve with the unit's settings did not start:\n%s", out.String())
}

// verifyUnit runs systemd-analyze verify on a copy of the unit that runs
// the test's binary (verify checks that ExecStart's program exists).
func verifyUnit(t *testing.T, bin, name string) {
	analyze, ok := lookPath("systemd-analyze")
	if !ok {
		t.Skip("systemd-analyze is not installed (apt-get install systemd)")
	}
	text, err := os.ReadFile(filepath.Join("systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	copied := strings.ReplaceAll(string(text), "/usr/local/bin/connectbook", bin)
	dir := t.TempDir()
	file := strings.Replace(name, "@.", "@8081.", 1) // an instance of a template
	if err := os.WriteFile(filepath.Join(dir, file), []byte(copied), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", "./"+file)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
	}
}
