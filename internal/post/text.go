package post

import (
	"html/template"
	"net/url"
	"strings"
	"unicode/utf8"
)

// A post is plain text. Showing it, the text is escaped as a whole, and
// only two things become markup, both built here: web addresses (http and
// https only) become links that open no window back to ConnectBook and
// pass no ranking, and @username becomes a link to that profile. No HTML a
// user typed is ever markup.

// Render returns body as HTML: escaped text with its links and mentions.
// Line breaks stay as they are; the page shows them (white-space:
// pre-wrap).
func Render(body string) template.HTML {
	var b strings.Builder
	for _, t := range tokens(body) {
		switch t.kind {
		case tokenURL:
			b.WriteString(`<a href="`)
			b.WriteString(template.HTMLEscapeString(t.href))
			b.WriteString(`" rel="nofollow noopener noreferrer ugc">`)
			b.WriteString(template.HTMLEscapeString(shorten(t.text)))
			b.WriteString(`</a>`)
		case tokenMention:
			b.WriteString(`<a class="mention" href="/u/`)
			b.WriteString(t.href)
			b.WriteString(`">`)
			b.WriteString(template.HTMLEscapeString(t.text))
			b.WriteString(`</a>`)
		default:
			b.WriteString(template.HTMLEscapeString(t.text))
		}
	}
	return template.HTML(b.String())
}

// Mentions returns the usernames body mentions, lowercase, each once, in
// order.
func Mentions(body string) []string {
	var names []string
	seen := map[string]bool{}
	for _, t := range tokens(body) {
		if t.kind == tokenMention && !seen[t.href] {
			seen[t.href] = true
			names = append(names, t.href)
		}
	}
	return names
}

type tokenKind int

const (
	tokenText tokenKind = iota
	tokenURL
	tokenMention
)

type token struct {
	kind tokenKind
	text string
	href string // the URL, or the lowercase username
}

// tokens splits body into text, URLs and mentions.
func tokens(body string) []token {
	var out []token
	text := 0 // start of the pending text
	flush := func(end int) {
		if end > text {
			out = append(out, token{kind: tokenText, text: body[text:end]})
		}
	}
	prev := rune(-1) // the character before i; none at the start
	for i := 0; i < len(body); {
		// A token starts with h, H or @, at the beginning or after a
		// character that is not part of a word (so e-mail addresses are
		// not mentions).
		if c := body[i]; (c == 'h' || c == 'H' || c == '@') && (prev < 0 || !isWord(prev) && prev != '@' && prev != '/') {
			kind := tokenURL
			href, n, ok := urlAt(body[i:])
			if !ok {
				kind = tokenMention
				href, n, ok = mentionAt(body[i:])
			}
			if ok {
				flush(i)
				out = append(out, token{kind: kind, text: body[i : i+n], href: href})
				i += n
				text = i
				prev, _ = utf8.DecodeLastRuneInString(body[:i])
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(body[i:])
		prev = r
		i += size
	}
	flush(len(body))
	return out
}

func isWord(r rune) bool {
	return r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127 && (r >= 0xC0)
}

// urlAt reads an http or https URL at the start of s: up to white space
// or a character no URL holds, without trailing punctuation (and without a
// closing bracket that was not opened inside it).
func urlAt(s string) (string, int, bool) {
	if !(len(s) >= 7 && strings.EqualFold(s[:7], "http://") || len(s) >= 8 && strings.EqualFold(s[:8], "https://")) {
		return "", 0, false
	}
	n := strings.IndexFunc(s, func(r rune) bool {
		return r <= ' ' || r == '<' || r == '>' || r == '"' || r == '`' || r == '\u00a0' || r == '\u3000' || r > 0x7f && !isURLRune(r)
	})
	if n < 0 {
		n = len(s)
	}
	for n > 0 {
		c := s[n-1]
		if strings.IndexByte(".,;:!?'*", c) >= 0 || (c == ')' && strings.Count(s[:n], "(") < strings.Count(s[:n], ")")) {
			n--
			continue
		}
		break
	}
	u, err := url.Parse(s[:n])
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return "", 0, false
	}
	return u.String(), n, true
}

// isURLRune allows letters in international addresses.
func isURLRune(r rune) bool { return r >= 0xA0 && r != 0xFEFF }

// mentionAt reads @username at the start of s.
func mentionAt(s string) (string, int, bool) {
	if len(s) < 4 || s[0] != '@' {
		return "", 0, false
	}
	n := 1
	for n < len(s) && n <= 31 && (s[n] == '_' || s[n] >= '0' && s[n] <= '9' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z') {
		n++
	}
	// 3 to 30 characters, not followed by more of a word.
	if n-1 < 3 || n-1 > 30 {
		return "", 0, false
	}
	if n < len(s) {
		if r, _ := utf8.DecodeRuneInString(s[n:]); isWord(r) || r == '@' {
			return "", 0, false
		}
	}
	return strings.ToLower(s[1:n]), n, true
}

// shorten keeps a long address readable: its scheme dropped and at most 40
// characters shown.
func shorten(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	if utf8.RuneCountInString(u) > 40 {
		r := []rune(u)
		return string(r[:39]) + "…"
	}
	return u
}
