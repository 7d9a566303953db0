package web

import (
	"html/template"
	"strconv"
	"strings"
)

// iconNames are the header's pictures, files under /static/icons/ that the
// style sheet paints in the text's colour (a CSS mask), so that the page
// holds no markup but its own elements. Each is decoration: the link
// around it carries the name.
var iconNames = map[string]bool{"home": true, "search": true, "bell": true, "settings": true, "logout": true}

// icon returns the named icon, hidden from assistive technology.
func icon(name string) template.HTML {
	if !iconNames[name] {
		return ""
	}
	return template.HTML(`<span class="i i-` + name + `" aria-hidden="true"></span>`)
}

// baseFuncs are the functions the page frame (base.html) uses.
func baseFuncs() template.FuncMap {
	return template.FuncMap{"icon": icon, "nav": nav, "initial": initial, "avatarHue": avatarHue}
}

// nav writes the header's links, this page's marked current: on every
// page, so written here rather than by a dozen template actions. Every
// value is escaped here, as the template would.
func nav(p *page) template.HTML {
	var b strings.Builder
	b.Grow(1200)
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
