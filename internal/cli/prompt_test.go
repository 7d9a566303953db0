package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/connectbook/connectbook/internal/auth"
)

func TestReadTerminalLine(t *testing.T) {
	for _, c := range []struct {
		in, want string
		err      string // "interrupted", "no password", or "" for none
	}{
		{"secret\r", "secret", ""},
		{"secret\n", "secret", ""},
		{"secret", "secret", ""}, // then the end of input
		{"sec\x7fret\r", "seret", ""},
		{"sé\x7fet\r", "set", ""}, // Backspace erases a character, not a byte
		{"\x7fsecret\b\r", "secre", ""},
		{"wrong\x15secret\r", "secret", ""},
		{"se\x1b[Acret\r", "se[Acret", ""}, // the escape is dropped, as from any control character
		{"sec\x03ret\r", "", "interrupted"},
		{"\x04", "", "no password"},
		{"sec\x04ret\r", "secret", ""},
		{"", "", "no password"},
	} {
		got, err := readTerminalLine(strings.NewReader(c.in))
		var intr *interruptedError
		var input *auth.InputError
		switch {
		case c.err == "interrupted" && (!errors.As(err, &intr) || intr.exitCode() != 130):
			t.Errorf("%q: got %q, %v; want interrupted (130)", c.in, got, err)
		case c.err == "no password" && !errors.As(err, &input):
			t.Errorf("%q: got %q, %v; want no password", c.in, got, err)
		case c.err == "" && (got != c.want || err != nil):
			t.Errorf("%q: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// A signal, or the end of the command's context, ends the wait for a
// password on standard input, with the exit code a shell gives a command
// the signal ended.
func TestReadSecretInterrupted(t *testing.T) {
	for _, c := range []struct {
		name   string
		sig    os.Signal // sent, if not nil
		cancel bool      // cancel the context instead
		code   int
	}{
		{"SIGINT", os.Interrupt, false, 130},
		{"SIGTERM", syscall.SIGTERM, false, 143},
		{"context", nil, true, 130},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdin, w := io.Pipe() // nothing is ever written
			defer w.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sigs := make(chan os.Signal, 1)
			if c.sig != nil {
				sigs <- c.sig
			}
			if c.cancel {
				cancel()
			}
			pw, _, err := readSecretUntil(ctx, stdin, io.Discard, "Password: ", sigs)
			var intr *interruptedError
			if !errors.As(err, &intr) || intr.exitCode() != c.code || pw != "" {
				t.Fatalf("got %q, %v; want interrupted (%d)", pw, err, c.code)
			}
		})
	}
}

func TestReadAnswer(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{"alice\n", "alice"},
		{"alice\r\n", "alice"},
		{"alice", "alice"}, // then the end of input
		{"", ""},
		{"\n", ""},
		{" @Alice \nmore\n", " @Alice "},
	} {
		var out strings.Builder
		got, err := readAnswerUntil(context.Background(), strings.NewReader(c.in), &out, "Sure? ", make(chan os.Signal))
		if got != c.want || err != nil || !strings.HasPrefix(out.String(), "Sure? ") {
			t.Errorf("%q: got %q, %v, shown %q; want %q", c.in, got, err, out.String(), c.want)
		}
	}
	stdin, w := io.Pipe() // nothing is ever written
	defer w.Close()
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM
	if got, err := readAnswerUntil(context.Background(), stdin, io.Discard, "Sure? ", sigs); err == nil || got != "" {
		t.Fatalf("interrupted: got %q, %v", got, err)
	} else if intr := new(interruptedError); !errors.As(err, &intr) || intr.exitCode() != 143 {
		t.Fatalf("interrupted: %v, want exit 143", err)
	}
}
