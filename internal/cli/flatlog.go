package cli

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// flatHandler writes the records that are most of the log, one line per
// request, faster than the slog handler it wraps, and byte for byte as that
// handler would: records whose attributes (its own and those added with
// WithAttrs) are all flat strings, integers, floats and booleans with
// non-empty keys, with a time of year 0 to 9999. Every other record, and
// every handler with a group, is the wrapped handler's. slog's handlers
// are general (groups, ReplaceAttr, any value, source lines) and cost a few
// microseconds a line; at thousands of requests a second the access log
// alone took a tenth of the server's time. TestFlatHandlerMatchesSlog
// compares the two on records of every shape.
//
// The wrapped handler must be slog's JSON handler (json) or text handler,
// made with no options other than a level, writing to w.
type flatHandler struct {
	inner slog.Handler // the same handler, with the same attributes
	json  bool
	w     io.Writer
	mu    *sync.Mutex // shared by the handlers WithAttrs makes, as slog's are; nil for a logWriter
	pre   []byte      // the attributes added with WithAttrs, formatted, separated
}

func newFlatHandler(inner slog.Handler, json bool, w io.Writer) *flatHandler {
	h := &flatHandler{inner: inner, json: json, w: w}
	if _, ok := w.(*logWriter); !ok {
		h.mu = new(sync.Mutex) // a logWriter takes each line whole itself
	}
	return h
}

func (h *flatHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *flatHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	for _, a := range as {
		if !flat(a) {
			return h.inner.WithAttrs(as) // slog's from here on
		}
	}
	h2 := *h
	h2.inner = h.inner.WithAttrs(as)
	h2.pre = append([]byte(nil), h.pre...)
	for _, a := range as {
		if len(h2.pre) > 0 {
			h2.pre = append(h2.pre, h.sep())
		}
		h2.pre = h.appendAttr(h2.pre, a)
	}
	return &h2
}

func (h *flatHandler) WithGroup(name string) slog.Handler {
	return h.inner.WithGroup(name)
}

// flatLineBufs holds line buffers for reuse.
var flatLineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (h *flatHandler) Handle(ctx context.Context, r slog.Record) error {
	if y := r.Time.Year(); r.Time.IsZero() || y < 0 || y >= 10000 {
		return h.inner.Handle(ctx, r)
	}
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		ok = flat(a)
		return ok
	})
	if !ok {
		return h.inner.Handle(ctx, r)
	}
	bp := flatLineBufs.Get().(*[]byte)
	b := (*bp)[:0]
	t := r.Time.Round(0)
	if h.json {
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":`...)
	} else {
		b = append(b, "time="...)
		b = appendRFC3339Millis(b, t)
		b = append(b, " level="...)
	}
	b = h.appendString(b, r.Level.String())
	if h.json {
		b = append(b, `,"msg":`...)
	} else {
		b = append(b, " msg="...)
	}
	b = h.appendString(b, r.Message)
	if len(h.pre) > 0 {
		b = append(b, h.sep())
		b = append(b, h.pre...)
	}
	r.Attrs(func(a slog.Attr) bool {
		b = append(b, h.sep())
		b = h.appendAttr(b, a)
		return true
	})
	if h.json {
		b = append(b, '}')
	}
	b = append(b, '\n')
	if h.mu != nil {
		h.mu.Lock()
	}
	_, err := h.w.Write(b)
	if h.mu != nil {
		h.mu.Unlock()
	}
	if cap(b) <= 16<<10 {
		*bp = b
		flatLineBufs.Put(bp)
	}
	return err
}

func (h *flatHandler) sep() byte {
	if h.json {
		return ','
	}
	return ' '
}

// flat reports whether a is an attribute this handler writes itself.
func flat(a slog.Attr) bool {
	if a.Key == "" {
		return false // slog drops some of these
	}
	switch v := a.Value; v.Kind() {
	case slog.KindString, slog.KindInt64, slog.KindUint64, slog.KindBool:
		return true
	case slog.KindFloat64:
		f := v.Float64()
		return !math.IsNaN(f) && !math.IsInf(f, 0) // slog's JSON handler writes an error
	}
	return false
}

// appendAttr appends key and value of a, which is flat.
func (h *flatHandler) appendAttr(b []byte, a slog.Attr) []byte {
	b = h.appendString(b, a.Key)
	if h.json {
		b = append(b, ':')
	} else {
		b = append(b, '=')
	}
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		b = h.appendString(b, v.String())
	case slog.KindInt64:
		b = strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		b = strconv.AppendBool(b, v.Bool())
	case slog.KindFloat64:
		if h.json {
			b = appendJSONFloat(b, v.Float64())
		} else {
			b = strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
		}
	}
	return b
}

func (h *flatHandler) appendString(b []byte, s string) []byte {
	if h.json {
		b = append(b, '"')
		b = appendEscapedJSONString(b, s)
		return append(b, '"')
	}
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// appendJSONFloat writes f as encoding/json does (which slog's JSON
// handler calls): shortest decimal, exponent form outside [1e-6, 1e21),
// and e-07 written e-7.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendRFC3339Millis writes t as slog's text handler does: RFC 3339 with
// exactly three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}

// safe reports whether the ASCII byte c goes into a JSON string as it is.
func safe(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' }

const hexDigits = "0123456789abcdef"

// appendEscapedJSONString writes s escaped as slog's JSON handler does:
// quotes, backslashes and control characters escaped, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped; no HTML escaping.
func appendEscapedJSONString(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safe(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// needsQuoting reports whether slog's text handler quotes s.
func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c != '\\' && (c == ' ' || c == '=' || !safe(c)) {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
