package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingBuffer is a bytes.Buffer safe for the flush timer's goroutine
// that counts its writes.
type countingBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *countingBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *countingBuffer) Contents() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.writes
}

// Lines below a warning are written together, soon; a warning is written
// at once, with what came before it, in order; nothing is lost at Flush.
func TestLogWriter(t *testing.T) {
	out := &countingBuffer{}
	lw := newLogWriter(out)
	logger := newLogger("json", slog.LevelDebug, lw)
	for i := range 50 {
		logger.Info("request", "n", i)
	}
	if got, _ := out.Contents(); got != "" {
		t.Fatalf("info lines written before a flush: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, writes := out.Contents()
		if strings.Count(got, "\n") == 50 {
			if writes != 1 {
				t.Errorf("50 lines in %d writes, want 1", writes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("info lines not written within 5s (%v expected): %q", logFlushEvery, got)
		}
		time.Sleep(10 * time.Millisecond)
	}

	logger.Info("before")
	logger.Warn("trouble")
	got, _ := out.Contents()
	if !strings.Contains(got, `"msg":"before"`) || !strings.HasSuffix(got, "\"msg\":\"trouble\"}\n") {
		t.Fatalf("a warning was not written at once after what came before it: %q", got)
	}
	logger.With("stream", "security").Error("bad")
	if got, _ := out.Contents(); !strings.HasSuffix(got, "\"stream\":\"security\"}\n") || !strings.Contains(got, `"msg":"bad"`) {
		t.Fatalf("an error through With was not written at once: %q", got)
	}

	logger.Info("last")
	lw.Flush()
	if got, _ := out.Contents(); !strings.Contains(got, `"msg":"last"`) {
		t.Fatal("Flush lost a line")
	}

	// A full batch goes out at once.
	out = &countingBuffer{}
	lw = newLogWriter(out)
	line := strings.Repeat("x", 1000) + "\n"
	for range logBatchBytes / len(line) {
		lw.Write([]byte(line))
	}
	if got, _ := out.Contents(); got != "" {
		t.Fatal("written before the batch was full")
	}
	lw.Write([]byte(line))
	if got, _ := out.Contents(); len(got) != (logBatchBytes/len(line)+1)*len(line) {
		t.Fatalf("a full batch was not written at once: %d bytes", len(got))
	}
}

// stallingWriter blocks each write until release is closed.
type stallingWriter struct {
	countingBuffer
	started chan struct{}
	release chan struct{}
}

func (s *stallingWriter) Write(p []byte) (int, error) {
	select {
	case s.started <- struct{}{}:
	default:
	}
	<-s.release
	return s.countingBuffer.Write(p)
}

// Lines are taken while a batch is being written (a slow disk or pipe
// holds up the writer, not the requests), and batches go out in order.
func TestLogWriterTakesLinesDuringWrite(t *testing.T) {
	out := &stallingWriter{started: make(chan struct{}, 1), release: make(chan struct{})}
	lw := newLogWriter(out)
	lw.Write([]byte("first\n"))
	flushed := make(chan error)
	go func() { flushed <- lw.Flush() }()
	<-out.started
	took := make(chan struct{})
	go func() {
		for i := range 100 {
			lw.Write([]byte("during " + strings.Repeat("x", i%7) + "\n"))
		}
		close(took)
	}()
	select {
	case <-took:
	case <-time.After(5 * time.Second):
		t.Fatal("lines waited for a write in progress")
	}
	close(out.release)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	lw.Write([]byte("last\n"))
	lw.Flush()
	got, _ := out.Contents()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 102 || lines[0] != "first" || lines[101] != "last" {
		t.Fatalf("%d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
}
