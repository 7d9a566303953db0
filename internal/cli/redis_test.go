package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/testdb"
)

func TestCheckRedisURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want string // in the error; "" for none
	}{
		{"", ""},
		{"redis://127.0.0.1:6379/0", ""},
		{"redis://:pw@127.0.0.1:6379/2", ""},
		{"rediss://user:pw@redis.example.com:6380", ""},
		{"redis://h:port:x/0", `--session-store redis://h:port:x/0 is not a Redis URL (invalid port ":x" after host)`},
		{"redis://u:s3cretpw@h:port:x/0", `--session-store redis://u:xxxxx@h:port:x/0 is not a Redis URL (it does not parse)`},
		{"redis://u:s3cretpw@localhost/zero", `is not a Redis URL (invalid database number: "zero")`},
		{"redis://u:s3cret/pw@localhost/0", "redis://u:xxxxx@localhost/0 is not a Redis URL"},
		{"redis://localhost:6379/0/1", "is not a Redis URL"},
		{"http://u:s3cretpw@localhost", "is not a Redis URL"},
		{"redis://u:s3cretpw@[::1", "redis://u:xxxxx@[::1 is not a Redis URL"},
	} {
		err := checkRedisURL(c.url)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.url, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: got %v, want %q", c.url, err, c.want)
		case err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "\n")):
			t.Errorf("%q: %q shows the password or is more than one line", c.url, err)
		}
	}
}

// TestRunAsChild is connectbook itself, as main runs it, for tests that
// watch what reaches the process's own standard error.
func TestRunAsChild(t *testing.T) {
	args := os.Getenv("CLI_TEST_CHILD_ARGS")
	if args == "" {
		t.Skip("run by TestRedisUnreachable in a process of its own")
	}
	code := Run(context.Background(), strings.Split(args, "\n"), os.Stdout, os.Stderr)
	if code == 0 {
		t.Fatal("exit 0")
	}
	os.Exit(code)
}

// runChild runs connectbook with args in a process of its own.
func runChild(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^TestRunAsChild$", "-test.count=1")
	c.Env = append(os.Environ(), "CLI_TEST_CHILD_ARGS="+strings.Join(args, "\n"))
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return c.ProcessState.ExitCode(), out.String(), errb.String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A Redis session store that is not there, or a URL that is not one, is
// one line on standard error saying what failed, where (the password
// hidden) and what to check; the Redis client's own log lines do not
// reach it.
func TestRedisUnreachable(t *testing.T) {
	clearEnv(t)
	addr := closedPort(t)
	dsn := testdb.SQLite(t)
	if code, _, errs := cmd(t, "correct horse battery\n", "user", "add", "alice", "--db", dsn); code != 0 {
		t.Fatal(errs)
	}
	const reach = "cannot reach the Redis session store at "
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"serve", "--addr", "127.0.0.1:0", "--db", dsn, "--session-store", "redis://:s3cretpw@" + addr + "/0"}, 1,
			[]string{"connectbook serve: " + reach + "redis://:xxxxx@" + addr + "/0: ", "connection refused", "Check that Redis is running there"}},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--db", dsn, "--session-store", "redis://nohost.invalid:1"}, 1,
			[]string{"connectbook serve: " + reach + "redis://nohost.invalid:1: ", "nohost.invalid", "host, port, password and database number"}},
		{[]string{"sessions", "list", "--user", "alice", "--db", dsn, "--session-store", "redis://u:s3cretpw@" + addr}, 1,
			[]string{"connectbook sessions list: " + reach + "redis://u:xxxxx@" + addr + ": "}},
		{[]string{"user", "passwd", "alice", "--db", dsn, "--session-store", "redis://u:s3cretpw@" + addr}, 1,
			[]string{"connectbook user passwd: " + reach}},
		{[]string{"events", "--db", dsn, "--session-store", "redis://nohost.invalid:1"}, 1,
			[]string{"connectbook events: " + reach}},
		{[]string{"user", "add", "bob", "--db", dsn, "--session-store", "redis://u:s3cretpw@h:port:x/0"}, 2,
			[]string{"connectbook user add: --session-store redis://u:xxxxx@h:port:x/0 is not a Redis URL"}},
		{[]string{"serve", "--db", dsn, "--session-store", "redis://u:s3cretpw@localhost/zero"}, 2,
			[]string{"connectbook serve: --session-store redis://u:xxxxx@localhost/zero is not a Redis URL"}},
		{[]string{"serve", "--db", dsn, "--session-store", "http://u:s3cretpw@localhost"}, 2,
			[]string{"connectbook serve: --session-store \"http://u:xxxxx@localhost\": "}},
	} {
		code, out, errs := runChild(t, c.args...)
		if code != c.code || out != "" || strings.Count(errs, "\n") != 1 || strings.Contains(errs, "s3cret") {
			t.Errorf("%q: exit %d, want %d; want one line on stderr without the password, got stdout %q, stderr:\n%s", c.args, code, c.code, out, errs)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%q: stderr lacks %q:\n%s", c.args, w, errs)
			}
		}
	}
}

// A Redis that accepts connections and never answers makes the commands
// fail after a bounded time, saying so.
func TestRedisTimeout(t *testing.T) {
	clearEnv(t)
	defer func(d time.Duration) { redisTimeout = d }(redisTimeout)
	redisTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	dsn := testdb.SQLite(t)
	store := "redis://" + ln.Addr().String() + "/0"
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--db", dsn, "--session-store", store},
		{"sessions", "list", "--user", "alice", "--db", dsn, "--session-store", store},
	} {
		done := make(chan struct{})
		var code int
		var stdout, stderr bytes.Buffer
		go func() {
			defer close(done)
			code = Run(context.Background(), args, &stdout, &stderr)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second): // only against a hang
			t.Fatalf("%q did not give up", args)
		}
		want := "cannot reach the Redis session store at " + store + ": no answer within " + strconv.Itoa(200) + "ms"
		if code != 1 || !strings.Contains(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 1 and %q", args, code, stderr.String(), want)
		}
	}
}
