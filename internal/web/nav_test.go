package web

import (
	"bytes"
	"html/template"
	"strconv"
	"strings"
	"testing"

	"github.com/connectbook/connectbook/internal/data"
)

// navPlain is the header as first written, link by link: nav must write
// the very same.
func navPlain(p *page) template.HTML {
	var b strings.Builder
	link := func(href, class, label string, current bool, icon template.HTML, extra string) {
		b.WriteString(`<li><a`)
		if class != "" {
			b.WriteString(` class="` + class + `"`)
		}
		b.WriteString(` href="` + template.HTMLEscapeString(href) + `"`)
		if current {
			b.WriteString(` aria-current="page"`)
		}
		b.WriteString(`>` + string(icon) + label + extra + "</a></li>\n")
	}
	label := func(s string) string { return `<span class="label">` + s + `</span>` }
	b.WriteString("<ul class=\"nav\">\n")
	if u := p.Viewer; u != nil {
		link("/", "", label("Home"), p.Path == "/", icon("home"), "")
		link("/search", "", label("Search"), p.Path == "/search", icon("search"), "")
		count := ""
		if n := p.Unread; n > 0 {
			shown, said := strconv.Itoa(n), strconv.Itoa(n)
			if n > 99 {
				shown, said = "99+", "more than 99"
			}
			count = ` <span class="count"><span aria-hidden="true">` + shown + `</span><span class="visually-hidden">, ` + said + ` unread</span></span>`
		}
		link("/notifications", "", label("Notifications"), p.Path == "/notifications", icon("bell"), count)
		avatar := template.HTML(`<span class="avatar-sm hue-` + strconv.Itoa(avatarHue(u.Username)) + `" aria-hidden="true">` +
			template.HTMLEscapeString(initial(u.DisplayName)) + `</span>`)
		link("/u/"+u.Username, "me", label("Profile"), p.Path == "/u/"+u.Username, avatar, "")
		link("/settings/sessions", "", label("Settings"), strings.HasPrefix(p.Path, "/settings"), icon("settings"), "")
		b.WriteString(`<li><form method="post" action="/logout" class="inline">` + "\n" +
			`<input type="hidden" name="csrf_token" value="` + template.HTMLEscapeString(p.CSRF) + `">` + "\n" +
			`<button type="submit" class="link">` + string(icon("logout")) + label("Log out") + "</button>\n</form></li>\n")
	} else {
		link("/search", "", label("Search"), p.Path == "/search", icon("search"), "")
		link("/login", "", "Log in", p.Path == "/login", "", "")
		link("/signup", "button small", "Sign up", false, "", "")
	}
	b.WriteString("</ul>")
	return template.HTML(b.String())
}

func TestNav(t *testing.T) {
	users := []*data.User{nil, {Username: "alice", DisplayName: "Alice"}, {Username: "bob_2", DisplayName: "<Bob & \"co\">"},
		{Username: "c", DisplayName: "  élan"}}
	paths := []string{"/", "/search", "/notifications", "/login", "/signup", "/u/alice", "/u/alicex", "/u/bob_2", "/u/c",
		"/settings/sessions", "/settings/privacy", "/profile", "/u/alice/followers"}
	for _, u := range users {
		for _, path := range paths {
			for _, unread := range []int{0, 1, 99, 100, 5000} {
				p := &page{Viewer: u, Path: path, Unread: unread, CSRF: "tok\"<en>"}
				var b bytes.Buffer
				nav(&b, p)
				if got, want := template.HTML(b.String()), navPlain(p); got != want {
					t.Fatalf("user %v, path %s, unread %d:\n got %s\nwant %s", u, path, unread, got, want)
				}
			}
		}
	}
}
