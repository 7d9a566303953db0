package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/testdb"
)

// served is a "connectbook serve" running in the test.
type served struct {
	url    string // from the startup line, without a trailing slash
	output string // what serve printed up to and including the startup line
	done   chan int
	stderr *bytes.Buffer
}

var startupLine = regexp.MustCompile(`ConnectBook is serving (https?://127\.0\.0\.1:\d+)`)

// startServe runs serve with args until ctx ends.
func startServe(t *testing.T, ctx context.Context, args ...string) *served {
	t.Helper()
	pr, pw := io.Pipe()
	s := &served{done: make(chan int, 1), stderr: &bytes.Buffer{}}
	go func() {
		s.done <- run(ctx, append([]string{"serve"}, args...), nil, pw, s.stderr)
		pw.Close()
	}()
	r := bufio.NewReader(pr)
	var out strings.Builder
	for {
		line, err := r.ReadString('\n')
		out.WriteString(line)
		if err != nil {
			t.Fatalf("serve printed no startup line: %q, stderr %q", out.String(), s.stderr.String())
		}
		if m := startupLine.FindStringSubmatch(line); m != nil {
			s.url, s.output = m[1], out.String()
			break
		}
	}
	go io.Copy(io.Discard, r)
	return s
}

// wait waits for serve to exit and checks it exited cleanly.
func (s *served) wait(t *testing.T) {
	t.Helper()
	select {
	case code := <-s.done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, s.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeStartsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, "--addr", "127.0.0.1:0", "--db", testdb.SQLite(t))
	resp, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("ConnectBook")) {
		t.Fatalf("GET / = %d %s", resp.StatusCode, body)
	}
	cancel()
	s.wait(t)
}

func TestUnknownCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"frobnicate"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), `unknown command "frobnicate"`) {
		t.Fatalf("stderr = %q", stderr.String())
	}
	if code := Run(context.Background(), []string{"help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "Usage") {
		t.Fatalf("help: %d %q", code, stdout.String())
	}
}
