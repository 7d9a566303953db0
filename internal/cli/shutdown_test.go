package cli

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/data"
)

// serveProcessEnv makes the test binary a ConnectBook server, as main is
// (SIGTERM cancels Run's context), with the arguments in the variable:
// the shutdown test sends a real signal to a real process.
const serveProcessEnv = "CONNECTBOOK_TEST_SERVE_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(serveProcessEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Run(ctx, strings.Fields(args), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// startServeProcess starts the test binary as "connectbook serve" with
// args, in a process of its own killed at the end of the test, and waits
// for it to serve. It returns the server's address, the process, the rest
// of its standard output and its standard error.
func startServeProcess(t *testing.T, args string) (string, *exec.Cmd, *bufio.Scanner, *strings.Builder) {
	t.Helper()
	proc := exec.Command(os.Args[0], "-test.run=^$")
	proc.Env = append(os.Environ(), serveProcessEnv+"=serve "+args)
	out, err := proc.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	proc.Stderr = stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Process.Kill() })
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if _, after, ok := strings.Cut(lines.Text(), "ConnectBook is serving http://"); ok {
			base, _, _ := strings.Cut("http://"+after, " ")
			return base, proc, lines, stderr
		}
	}
	t.Fatalf("the server did not start: %s", stderr.String())
	return "", nil, nil, nil
}

// SIGTERM while sign-ups pour in through a balancer: the instance turns
// not ready at once and keeps serving for --shutdown-delay, the balancer
// (here, the clients themselves, polling /readyz) stops sending, and then
// the instance stops. No request fails: every one sent is answered, every
// sign-up answered as done is in the database, and the process says it
// stopped and exits 0.
func TestShutdownUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	db := filepath.Join(t.TempDir(), "connectbook.db")
	base, proc, lines, stderr := startServeProcess(t, "--addr 127.0.0.1:0 --db "+db+" --signups-per-hour 0 --shutdown-delay 1s")
	rest := make(chan string, 1)
	go func() {
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		rest <- b.String()
	}()

	client := &http.Client{
		// A connection a request each: a request either reaches the server
		// or is refused at connect, never lost on a connection closed idle.
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
	var (
		signalled   atomic.Int64 // when SIGTERM was sent, in Unix nanoseconds
		notReady    atomic.Bool  // the balancer saw /readyz answer 503
		shuttingMsg atomic.Value
		mu          sync.Mutex
		done        []string // sign-ups answered as done
		afterSignal int      // of them, answered after SIGTERM
		lost        []string
		wg          sync.WaitGroup
	)
	// The balancer: asks /readyz every 20 ms until it answers 503.
	wg.Go(func() {
		for !notReady.Load() {
			resp, err := client.Get(base + "/readyz")
			if err != nil {
				mu.Lock()
				lost = append(lost, fmt.Sprintf("readyz: %v", err))
				mu.Unlock()
				return
			}
			body := make([]byte, 200)
			n, _ := resp.Body.Read(body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				shuttingMsg.Store(string(body[:n]))
				notReady.Store(true)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	for w := range 6 {
		wg.Go(func() {
			for i := 0; !notReady.Load(); i++ {
				name := fmt.Sprintf("w%du%d", w, i)
				pw := "a long enough password " + name
				resp, err := client.PostForm(base+"/signup", url.Values{"username": {name}, "password": {pw}, "password_confirm": {pw}})
				answered := time.Now().UnixNano()
				if err != nil {
					mu.Lock()
					lost = append(lost, fmt.Sprintf("%s: %v", name, err))
					mu.Unlock()
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusSeeOther {
					mu.Lock()
					done = append(done, name)
					if s := signalled.Load(); s != 0 && answered > s {
						afterSignal++
					}
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	signalled.Store(time.Now().UnixNano())
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := proc.Wait(); err != nil {
		t.Errorf("the server exited with %v: %s", err, stderr.String())
	}
	if said := <-rest; !strings.Contains(said, "ConnectBook stopped") {
		t.Errorf("the server did not say it stopped: %q", said)
	}
	if len(lost) > 0 {
		t.Errorf("%d requests the server had received failed: %v", len(lost), lost)
	}
	if msg, _ := shuttingMsg.Load().(string); msg != "not ready: this instance is shutting down\n" {
		t.Errorf("/readyz while shutting down said %q", msg)
	}
	if len(done) == 0 || afterSignal == 0 {
		t.Fatalf("%d sign-ups done, %d of them answered after SIGTERM: the signal came at no request in flight", len(done), afterSignal)
	}
	d, err := data.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, name := range done {
		if _, err := d.UserByUsername(context.Background(), name); err != nil {
			t.Errorf("sign-up %s was answered as done but is not in the database: %v", name, err)
		}
	}
	t.Logf("%d sign-ups done, %d answered after SIGTERM", len(done), afterSignal)
}
