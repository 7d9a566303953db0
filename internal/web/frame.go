package web

import (
	"bytes"
	"html/template"
	"strings"
)

// The frame of every page, around what its templates write (the title,
// the main content, the security notices): written here, as text and
// the header's links, because a template action costs more than the page
// it writes. It reads as base.html did.
const (
	frameTop = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="theme-color" content="#0b57d0" media="(prefers-color-scheme: light)">
<meta name="theme-color" content="#1f3a63" media="(prefers-color-scheme: dark)">
<title>`
	frameHeader = ` · ConnectBook</title>
<meta name="description" content="ConnectBook: a small social network for posting, following people and reading a home feed, with sign-in sessions that can't be fixed, guessed or replayed.">
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="icon" href="/favicon.ico" sizes="32x32">
<link rel="apple-touch-icon" href="/apple-touch-icon.png">
</head>
<body>
<a class="skip" href="#main">Skip to main content</a>
<header class="top">
<nav class="bar" aria-label="Main">
<a class="brand" href="/"><span class="logo" aria-hidden="true">cb</span><span class="brand-name">ConnectBook</span></a>
`
	frameMain = `
</nav>
</header>
<main id="main" tabindex="-1">
`
	frameBottom = `
</main>
<footer class="foot"><a href="/security">How we keep your account safe</a> · ConnectBook</footer>
</body>
</html>`
)

// goPage is a page written in Go rather than by templates: its title (plain
// text) and main content.
type goPage interface {
	title() string
	writeMain(b *bytes.Buffer, p *page)
}

// escapeHTML escapes s for HTML text and quoted attribute values as
// html/template does.
var escapeHTML = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;").Replace

// writePage writes page p to b: from t (a page's templates, with
// base.html), or from p.Data if it is a goPage (t then only writes the
// notices and the flash).
func writePage(b *bytes.Buffer, t *template.Template, p *page) error {
	gp, _ := p.Data.(goPage)
	b.WriteString(frameTop)
	if gp != nil {
		b.WriteString(escapeHTML(gp.title()))
	} else if err := t.ExecuteTemplate(b, "title", p); err != nil {
		return err
	}
	b.WriteString(frameHeader)
	nav(b, p)
	b.WriteString(frameMain)
	if p.Flash != "" {
		if err := t.ExecuteTemplate(b, "flash", p.Flash); err != nil {
			return err
		}
	}
	b.WriteByte('\n')
	if len(p.Notices) > 0 {
		if err := t.ExecuteTemplate(b, "notices", p); err != nil {
			return err
		}
	}
	b.WriteByte('\n')
	if gp != nil {
		gp.writeMain(b, p)
	} else if err := t.ExecuteTemplate(b, "main", p); err != nil {
		return err
	}
	b.WriteString(frameBottom)
	return nil
}
