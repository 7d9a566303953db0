package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// awkward are strings that each encoding must get right: quotes,
// backslashes, control characters, '=' and spaces (text), invalid UTF-8,
// U+2028/U+2029, non-printing and wide characters, HTML.
var awkward = []string{
	"", "plain", "GET /u/{username}", "with space", "a=b", `"quoted"`, `back\slash`, "tab\there",
	"new\nline", "cr\rhere", "\x00nul", "\x01\x1f", "\x7f", "bad \xff utf-8", "\xc3", "line\u2028sep", "para\u2029sep",
	"zero\u200bwidth", "é", "日本語", "emoji 😀", "<script>&amp;", "\u00a0nbsp", "'single'", "{}[]:,",
	"127.0.0.1", "4581333aa0b4ae59", "-", "INFO",
}

// randomAttr returns an attribute of a random kind, flat or not.
func randomAttr(r *rand.Rand) slog.Attr {
	key := awkward[r.IntN(len(awkward))]
	if r.IntN(3) > 0 {
		key = []string{"method", "route", "status", "bytes", "duration_ms", "client_ip", "request_id"}[r.IntN(7)]
	}
	switch r.IntN(12) {
	case 0, 1, 2:
		return slog.String(key, awkward[r.IntN(len(awkward))])
	case 3:
		return slog.Int64(key, r.Int64()-r.Int64())
	case 4:
		return slog.Int(key, r.IntN(1000))
	case 5:
		return slog.Uint64(key, r.Uint64())
	case 6:
		return slog.Bool(key, r.IntN(2) == 0)
	case 7, 8:
		floats := []float64{0, math.Copysign(0, -1), 0.115, 1.5, -2.25, 1e-6, 9.99e-7, 1e-7, 1.234e-9, 1e20, 1e21,
			1.5e300, 5e-324, math.MaxFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 123456789.123}
		if r.IntN(2) == 0 {
			return slog.Float64(key, floats[r.IntN(len(floats))])
		}
		return slog.Float64(key, math.Float64frombits(r.Uint64()))
	case 9:
		return slog.Duration(key, time.Duration(r.Int64N(1e12)))
	case 10:
		return slog.Any(key, []int{1, 2})
	default:
		return slog.Group(key, slog.String("inner", "x"))
	}
}

// The flat handler writes what slog's handler writes, byte for byte, for
// records of every shape: the flat ones it writes itself, and the others
// it hands on. Both handlers are given the same records, WithAttrs and
// WithGroup calls.
func TestFlatHandlerMatchesSlog(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		time.Date(2026, 12, 2, 4, 49, 43, 693645340, time.UTC),
		time.Date(2026, 12, 2, 4, 49, 43, 0, time.UTC),
		time.Date(2026, 12, 2, 4, 49, 43, 999999999, time.FixedZone("x", 5*3600+1800)),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
		time.Now(), // with a monotonic reading
	}
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelInfo + 2, slog.LevelError + 4}
	flatLines := 0
	for _, json := range []bool{true, false} {
		for i := range 3000 {
			// The lines the flat handler hands on and those it writes
			// itself go to separate buffers, to count the latter.
			var want, handedOn, own bytes.Buffer
			opts := &slog.HandlerOptions{Level: slog.LevelDebug}
			var ref slog.Handler = slog.NewTextHandler(&want, opts)
			var inner slog.Handler = slog.NewTextHandler(&handedOn, opts)
			if json {
				ref, inner = slog.NewJSONHandler(&want, opts), slog.NewJSONHandler(&handedOn, opts)
			}
			var h slog.Handler = newFlatHandler(inner, json, &own)
			for range r.IntN(3) {
				if r.IntN(8) == 0 {
					name := awkward[r.IntN(len(awkward))]
					ref, h = ref.WithGroup(name), h.WithGroup(name)
					continue
				}
				as := make([]slog.Attr, 1+r.IntN(2))
				for j := range as {
					as[j] = randomAttr(r)
				}
				if r.IntN(2) == 0 { // mostly flat, as the access log's
					for j := range as {
						as[j] = slog.String(awkward[r.IntN(len(awkward))]+"k", awkward[r.IntN(len(awkward))])
					}
				}
				ref, h = ref.WithAttrs(as), h.WithAttrs(as)
			}
			rec := slog.NewRecord(times[r.IntN(len(times))], levels[r.IntN(len(levels))], awkward[r.IntN(len(awkward))], 0)
			for range r.IntN(10) {
				if r.IntN(4) == 0 {
					rec.AddAttrs(randomAttr(r))
				} else {
					rec.AddAttrs(slog.String([]string{"method", "route", "client_ip"}[r.IntN(3)], awkward[r.IntN(len(awkward))]),
						slog.Float64("duration_ms", float64(r.IntN(100000))/1000))
				}
			}
			if err := ref.Handle(ctx, rec.Clone()); err != nil {
				t.Fatal(err)
			}
			if err := h.Handle(ctx, rec.Clone()); err != nil {
				t.Fatal(err)
			}
			got := handedOn.String() + own.String()
			if got != want.String() {
				t.Fatalf("json %v, record %d:\nslog: %q\nflat: %q", json, i, want.String(), got)
			}
			if own.Len() > 0 {
				flatLines++
			}
		}
	}
	t.Logf("%d lines written by the flat handler itself", flatLines)
	if flatLines < 1000 {
		t.Fatalf("only %d of the records were written by the flat handler itself", flatLines)
	}
}

// The access log's line, written concurrently: every line whole.
func TestFlatHandlerConcurrent(t *testing.T) {
	var out bytes.Buffer
	lw := newLogWriter(&out)
	h := newFlatHandler(slog.NewJSONHandler(lw, nil), true, lw).WithAttrs([]slog.Attr{slog.String("stream", "access")})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				rec.AddAttrs(slog.Int("g", g), slog.Int("i", i), slog.String("route", "GET /profile"))
				h.Handle(context.Background(), rec)
			}
		}()
	}
	wg.Wait()
	lw.Flush()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines, want %d", len(lines), 8*500)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"time":"`) || !strings.HasSuffix(l, `"route":"GET /profile"}`) || !strings.Contains(l, `"msg":"request","stream":"access","g":`) {
			t.Fatalf("a broken line: %q", l)
		}
	}
}

// BenchmarkAccessLine is one access-log line through slog's JSON handler
// and through the flat handler.
func BenchmarkAccessLine(b *testing.B) {
	for _, c := range []struct {
		name string
		h    slog.Handler
	}{
		{"slog", slog.NewJSONHandler(io.Discard, nil)},
		{"flat", newFlatHandler(slog.NewJSONHandler(io.Discard, nil), true, io.Discard)},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := c.h.WithAttrs([]slog.Attr{slog.String("stream", "access")})
			b.ReportAllocs()
			for b.Loop() {
				rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				rec.AddAttrs(slog.String("method", "GET"), slog.String("route", "GET /profile"), slog.Int("status", 200),
					slog.Int64("bytes", 3195), slog.Float64("duration_ms", 0.115), slog.String("client_ip", "127.0.0.1"),
					slog.String("request_id", "4581333aa0b4ae59"))
				h.Handle(context.Background(), rec)
			}
		})
	}
}
