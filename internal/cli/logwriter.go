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

	mu    sync.Mutex
	buf   []byte
	armed bool // a flush is scheduled
}

func newLogWriter(w io.Writer) *logWriter { return &logWriter{w: w} }

// Write takes one record (slog writes each record with one call).
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) >= logBatchBytes {
		return len(p), l.flushLocked()
	}
	if !l.armed {
		l.armed = true
		time.AfterFunc(logFlushEvery, func() { l.Flush() })
	}
	return len(p), nil
}

// Flush writes out what is buffered.
func (l *logWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = false
	return l.flushLocked()
}

func (l *logWriter) flushLocked() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	if cap(l.buf) > 4*logBatchBytes {
		l.buf = nil
	} else {
		l.buf = l.buf[:0]
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
