package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/connectbook/connectbook/internal/auth"
)

// interruptedError is a password prompt ended by a signal, or by Ctrl-C
// typed at it.
type interruptedError struct {
	sig os.Signal // nil if unknown
}

func (e *interruptedError) Error() string { return "interrupted" }

// exitCode is the shell's for a command ended by the signal: 128 plus its
// number, 130 for Ctrl-C.
func (e *interruptedError) exitCode() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// readSecret reads a password: from the terminal without echo, after
// prompt, or else the first line of stdin. It reports which. SIGINT and
// SIGTERM end the wait with an *interruptedError, the terminal as it was.
func readSecret(ctx context.Context, stdin io.Reader, out io.Writer, prompt string) (string, bool, error) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return readSecretUntil(ctx, stdin, out, prompt, sigs)
}

// readSecretUntil is readSecret, interrupted by what arrives on sigs or by
// the end of ctx.
//
// A read from a terminal or a pipe cannot be called off, so it runs on its
// own goroutine, which an interruption leaves behind: the command exits.
// The terminal is switched to raw mode here rather than in that goroutine
// (as term.ReadPassword would), so that it is always restored before
// readSecretUntil returns; in raw mode Ctrl-C reaches the reader as a byte
// instead of raising SIGINT, and readTerminalLine treats it as the signal.
func readSecretUntil(ctx context.Context, stdin io.Reader, out io.Writer, prompt string, sigs <-chan os.Signal) (string, bool, error) {
	read := func() (string, error) { return readLine(stdin) }
	terminal := isTerminal(stdin)
	if terminal {
		f := stdin.(*os.File)
		fd := int(f.Fd())
		state, err := term.MakeRaw(fd)
		if err != nil {
			return "", true, err
		}
		defer func() {
			term.Restore(fd, state)
			fmt.Fprintln(out)
		}()
		// Shown once typing no longer echoes (it has no newline, which
		// raw mode would not turn into a carriage return and line feed).
		fmt.Fprint(out, prompt)
		read = func() (string, error) { return readTerminalLine(f) }
	}
	line, err := await(ctx, sigs, read)
	return line, terminal, err
}

// isTerminal reports whether stdin is a terminal.
func isTerminal(stdin io.Reader) bool {
	f, ok := stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// await returns what read returns, unless a signal on sigs or the end of
// ctx comes first: then an *interruptedError, read left behind.
func await(ctx context.Context, sigs <-chan os.Signal, read func() (string, error)) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := read()
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		return r.line, r.err
	case s := <-sigs:
		return "", &interruptedError{s}
	case <-ctx.Done():
		// The signal that ended ctx is on its way to sigs too, unless it
		// came before the prompt: wait for it briefly, to say which.
		select {
		case s := <-sigs:
			return "", &interruptedError{s}
		case <-time.After(100 * time.Millisecond):
			return "", &interruptedError{}
		}
	}
}

// readAnswer asks a question on the terminal stdin, after prompt, and
// reads the answer as typed, shown as it is typed; the end of input is an
// empty answer. SIGINT and SIGTERM end the wait with an *interruptedError.
func readAnswer(ctx context.Context, stdin io.Reader, out io.Writer, prompt string) (string, error) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return readAnswerUntil(ctx, stdin, out, prompt, sigs)
}

// readAnswerUntil is readAnswer, interrupted by what arrives on sigs or by
// the end of ctx.
func readAnswerUntil(ctx context.Context, stdin io.Reader, out io.Writer, prompt string, sigs <-chan os.Signal) (string, error) {
	fmt.Fprint(out, prompt)
	return await(ctx, sigs, func() (string, error) {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(out) // the terminal echoed no newline
		} else if err != nil {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	})
}

// readLine reads the first line of a non-terminal stdin.
func readLine(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", &auth.InputError{Field: "password", Message: "no password on standard input"}
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// readTerminalLine reads a line typed on a terminal in raw mode, doing the
// editing the terminal's own line mode would: Backspace erases a
// character, Ctrl-U the line; Ctrl-C interrupts; Ctrl-D on an empty line
// means there is no password. Other control characters (arrow keys' escape
// sequences begin with one) are not part of a password anyone could type
// into a web form, and are dropped.
func readTerminalLine(r io.Reader) (string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 0 {
			if err == nil {
				continue
			}
			if errors.Is(err, io.EOF) && len(line) > 0 {
				return string(line), nil
			}
			if errors.Is(err, io.EOF) {
				return "", &auth.InputError{Field: "password", Message: "no password typed"}
			}
			return "", err
		}
		switch c := b[0]; {
		case c == '\r' || c == '\n':
			return string(line), nil
		case c == 0x03: // Ctrl-C
			return "", &interruptedError{os.Interrupt}
		case c == 0x04 && len(line) == 0: // Ctrl-D
			return "", &auth.InputError{Field: "password", Message: "no password typed"}
		case c == 0x7f || c == '\b':
			_, size := utf8.DecodeLastRune(line)
			line = line[:len(line)-size]
		case c == 0x15: // Ctrl-U
			line = line[:0]
		case c >= 0x20:
			line = append(line, c)
		}
	}
}
