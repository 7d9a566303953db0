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

// waitFor reads the screen until it shows want.
func (p *pty) waitFor(t *testing.T, want string) {
	t.Helper()
	p.master.SetReadDeadline(time.Now().Add(20 * time.Second)) // only against a hang
	buf := make([]byte, 256)
	for !strings.Contains(p.screen.String(), want) {
		n, err := p.master.Read(buf)
		p.screen.Write(buf[:n])
		if err != nil {
			t.Fatalf("waiting for %q: %v; the screen shows %q", want, err, p.screen.String())
		}
	}
}

func (p *pty) typ(t *testing.T, s string) {
	t.Helper()
	if _, err := p.master.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// The password prompts of "user add" and "probe" on a real terminal:
// nothing typed is echoed, and Ctrl-C, SIGINT and SIGTERM end the command
// with its exit code and a line saying so, the terminal as it was.
func TestPasswordPromptOnTerminal(t *testing.T) {
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
	typePassword := func(t *testing.T, p *pty) { p.typ(t, password+"\r") }
	for _, c := range []struct {
		name    string
		args    []string
		prompts []string // waited for in turn, with the step after each
		steps   []func(*testing.T, *pty)
		code    int
		out     string // on the screen at the end
	}{
		{"user add", []string{"user", "add", "alice"},
			[]string{"Password: ", "Password again: "}, []func(*testing.T, *pty){typePassword, typePassword},
			0, "Created user alice"},
		{"user add, Ctrl-C", []string{"user", "add", "alice"},
			[]string{"Password: "}, []func(*testing.T, *pty){func(t *testing.T, p *pty) { p.typ(t, "Quartz\x03") }},
			130, "connectbook user add: interrupted"},
		{"user add, SIGINT", []string{"user", "add", "alice"},
			[]string{"Password: "}, []func(*testing.T, *pty){kill(syscall.SIGINT)},
			130, "connectbook user add: interrupted"},
		{"user add, SIGTERM at the second prompt", []string{"user", "add", "alice"},
			[]string{"Password: ", "Password again: "}, []func(*testing.T, *pty){typePassword, kill(syscall.SIGTERM)},
			143, "connectbook user add: interrupted"},
		{"probe, Ctrl-C", []string{"probe", "--target", "http://127.0.0.1:1", "--user", "alice"},
			[]string{"Password for alice at http://127.0.0.1:1: "}, []func(*testing.T, *pty){func(t *testing.T, p *pty) { p.typ(t, "\x03") }},
			130, "connectbook probe: interrupted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := openPTY(t)
			before := p.termios(t)
			args := c.args
			if args[0] == "user" {
				args = append(args, "--db", testdb.SQLite(t))
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
		})
	}
}
