package cli

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logBatch bounds how long a log line waits, and how much is written at
// once.
const (
	logFlushEvery = 100 * time.Millisecond
	logBatchBytes = 32 << 10
)

// logWriter batches the log's lines: they are written out when a batch is
// full, logFlushEvery after the first line of a batch, and at once after a
// warning or an error (see flushingHandler). Under load that is one write
// for many access-log lines instead of one a request; a process killed
// outright loses at most logFlushEvery's worth of lines below a warning.
type logWriter struct {
	w io.Writer

	// wmu orders the writes to w; mu guards the rest, and is never held
	// during a write, so that lines are added while a batch goes out.
	wmu   sync.Mutex
	mu    sync.Mutex
	buf   []byte
	spare []byte // the last batch's buffer, for the next
	armed bool   // a flush is scheduled
}

func newLogWriter(w io.Writer) *logWriter { return &logWriter{w: w} }

// Write takes one record (slog writes each record with one call).
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf = append(l.buf, p...)
	full := len(l.buf) >= logBatchBytes
	if !full && !l.armed {
		l.armed = true
		time.AfterFunc(logFlushEvery, func() { l.Flush() })
	}
	l.mu.Unlock()
	if full {
		return len(p), l.flush(false)
	}
	return len(p), nil
}

// Flush writes out what is buffered.
func (l *logWriter) Flush() error { return l.flush(true) }

// flush writes out the lines buffered so far; timer says the scheduled
// flush is done.
func (l *logWriter) flush(timer bool) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	if timer {
		l.armed = false
	}
	out := l.buf
	l.buf, l.spare = l.spare[:0], nil
	l.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	_, err := l.w.Write(out)
	if cap(out) <= 4*logBatchBytes {
		l.mu.Lock()
		l.spare = out[:0]
		l.mu.Unlock()
	}
	return err
}

// flushingHandler flushes its logWriter after each record at level at or
// above.
type flushingHandler struct {
	slog.Handler
	w  *logWriter
	at slog.Level
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.at {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(as), h.w, h.at}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.w, h.at}
}
