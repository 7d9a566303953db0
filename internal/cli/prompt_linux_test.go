package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/connectbook/connectbook/internal/testdb"
)

// pty is a pseudo-terminal: the test types into and reads the screen from
// its master side; the command under test has the terminal, tty.
type pty struct {
	master, tty *os.File
	screen      strings.Builder // what the command wrote to the terminal so far
	seen        int             // how much of the screen waitFor has matched
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	// Closing the master hangs the terminal up, which also ends a read
	// the command left behind.
	t.Cleanup(func() { master.Close() })
	var n uint32
	ioctl(t, master, syscall.TIOCGPTN, unsafe.Pointer(&n))
	var unlock int32
	ioctl(t, master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return &pty{master: master, tty: tty}
}

// ioctl works on f's descriptor without f.Fd, which would make the master
// blocking and so its read deadlines ineffective.
func ioctl(t *testing.T, f *os.File, req uintptr, arg unsafe.Pointer) {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
	}); err != nil {
		t.Fatal(err)
	}
	if errno != 0 {
		t.Fatalf("ioctl %#x: %v", req, errno)
	}
}

func (p *pty) termios(t *testing.T) syscall.Termios {
	t.Helper()
	var tio syscall.Termios
	ioctl(t, p.tty, syscall.TCGETS, unsafe.Pointer(&tio))
	return tio
}

// waitFor reads the screen until it shows want after what the previous
// waitFor found.
func (p *pty) waitFor(t *testing.T, want string) {
	t.Helper()
	p.master.SetReadDeadline(time.Now().Add(20 * time.Second)) // only against a hang
	buf := make([]byte, 256)
	for !strings.Contains(p.screen.String()[p.seen:], want) {
		n, err := p.master.Read(buf)
		p.screen.Write(buf[:n])
		if err != nil {
			t.Fatalf("waiting for %q: %v; the screen shows %q", want, err, p.screen.String())
		}
	}
	p.seen += strings.Index(p.screen.String()[p.seen:], want) + len(want)
}

func (p *pty) typ(t *testing.T, s string) {
	t.Helper()
	if _, err := p.master.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// The prompts of "user add", "user passwd", "user delete" and "probe" on a
// real terminal: nothing typed at a password prompt is echoed, two
// passwords that differ are asked for again (three times at most), a
// deletion needs the username typed, and Ctrl-C, SIGINT and SIGTERM end
// the command with its exit code and a line saying so, the terminal as it
// was.
func TestPromptsOnTerminal(t *testing.T) {
	t.Setenv("CONNECTBOOK_PROBE_PASSWORD", "")
	// The signals sent below go to the whole test process: without a
	// handler of its own for the moments the command has none, one could
	// end it.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(guard)
	kill := func(sig syscall.Signal) func(*testing.T, *pty) {
		return func(t *testing.T, _ *pty) {
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
		}
	}
	const password = "Quartz-lantern-87-orbit"
	typ := func(s string) func(*testing.T, *pty) { return func(t *testing.T, p *pty) { p.typ(t, s) } }
	typePassword := typ(password + "\r")
	typeOther := typ("Quartz-other-password-12\r")
	const (
		first  = "New password for alice: "
		second = "Retype the new password for alice: "
		again  = "do not match. Try again.\r\nNew password for alice: "
		sure   = "Delete user alice and all their posts, follows and sessions? Type the username to confirm: "
	)
	steps := func(s ...func(*testing.T, *pty)) []func(*testing.T, *pty) { return s }
	for _, c := range []struct {
		name    string
		args    []string
		alice   bool     // alice exists before
		prompts []string // waited for in turn, with the step after each
		steps   []func(*testing.T, *pty)
		code    int
		out     string // on the screen at the end
		exists  bool   // alice exists after
	}{
		{"user add", []string{"user", "add", "alice"}, false,
			[]string{first, second}, steps(typePassword, typePassword),
			0, "Created user alice", true},
		{"user add, the passwords differ once", []string{"user", "add", "alice"}, false,
			[]string{first, second, again, second}, steps(typePassword, typeOther, typePassword, typePassword),
			0, "Created user alice", true},
		{"user add, the passwords differ three times", []string{"user", "add", "alice"}, false,
			[]string{first, second, again, second, again, second},
			steps(typePassword, typeOther, typePassword, typeOther, typePassword, typeOther),
			2, "connectbook user add: the two passwords did not match, 3 times; nothing was changed", false},
		{"user passwd names the account", []string{"user", "passwd", "ALICE"}, true,
			[]string{first, second}, steps(typePassword, typePassword),
			0, "Password of alice changed", true},
		{"user add, Ctrl-C", []string{"user", "add", "alice"}, false,
			[]string{first}, steps(typ("Quartz\x03")),
			130, "connectbook user add: interrupted", false},
		{"user add, SIGINT", []string{"user", "add", "alice"}, false,
			[]string{first}, steps(kill(syscall.SIGINT)),
			130, "connectbook user add: interrupted", false},
		{"user add, SIGTERM at the second prompt", []string{"user", "add", "alice"}, false,
			[]string{first, second}, steps(typePassword, kill(syscall.SIGTERM)),
			143, "connectbook user add: interrupted", false},
		{"user delete, confirmed", []string{"user", "delete", "alice"}, true,
			[]string{sure}, steps(typ("alice\r")),
			0, "Deleted user alice; 0 sessions ended", false},
		{"user delete, confirmed as @Alice", []string{"user", "delete", "alice"}, true,
			[]string{sure}, steps(typ("@Alice\r")),
			0, "Deleted user alice", false},
		{"user delete, another name typed", []string{"user", "delete", "alice"}, true,
			[]string{sure}, steps(typ("bob\r")),
			1, "connectbook user delete: not confirmed; nothing was deleted", true},
		{"user delete, nothing typed", []string{"user", "delete", "alice"}, true,
			[]string{sure}, steps(typ("\x04")),
			1, "not confirmed; nothing was deleted", true},
		{"user delete, SIGINT", []string{"user", "delete", "alice"}, true,
			[]string{sure}, steps(kill(syscall.SIGINT)),
			130, "connectbook user delete: interrupted", true},
		{"user delete --yes asks nothing", []string{"user", "delete", "alice", "--yes"}, true,
			nil, nil,
			0, "Deleted user alice", false},
		{"probe, Ctrl-C", []string{"probe", "--target", "http://127.0.0.1:1", "--user", "alice"}, false,
			[]string{"Password for alice at http://127.0.0.1:1: "}, steps(typ("\x03")),
			130, "connectbook probe: interrupted", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := openPTY(t)
			before := p.termios(t)
			args := c.args
			dsn := testdb.SQLite(t)
			if args[0] == "user" {
				args = append(args, "--db", dsn)
			}
			if c.alice {
				if code, _, errs := cmd(t, "correct horse battery\n", "user", "add", "alice", "--db", dsn); code != 0 {
					t.Fatal(errs)
				}
			}
			done := make(chan int, 1)
			go func() { done <- run(context.Background(), args, p.tty, p.tty, p.tty) }()
			for i, prompt := range c.prompts {
				p.waitFor(t, prompt)
				c.steps[i](t, p)
			}
			var code int
			select {
			case code = <-done:
			case <-time.After(20 * time.Second): // only against a hang
				t.Fatalf("the command did not end; the screen shows %q", p.screen.String())
			}
			p.waitFor(t, c.out)
			if code != c.code {
				t.Errorf("exit %d, want %d; the screen shows %q", code, c.code, p.screen.String())
			}
			if strings.Contains(p.screen.String(), "Quartz") {
				t.Errorf("the password was echoed: %q", p.screen.String())
			}
			if after := p.termios(t); after != before {
				t.Errorf("terminal left as %+v, was %+v", after, before)
			}
			if args[0] == "user" {
				_, _, errs := cmd(t, "", "sessions", "list", "--user", "alice", "--db", dsn)
				if exists := !strings.Contains(errs, "no user"); exists != c.exists {
					t.Errorf("alice exists afterwards: %v, want %v (%q)", exists, c.exists, errs)
				}
			}
		})
	}
}
