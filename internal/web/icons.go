package web

import (
	"bytes"
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

// baseFuncs are the functions every page's templates may use.
func baseFuncs() template.FuncMap {
	return template.FuncMap{"icon": icon, "initial": initial, "avatarHue": avatarHue}
}

// nav writes the header's links, this page's marked current: on every
// page, so written here rather than by a dozen template actions, from
// pieces made once. Every value is escaped here, as the template would.
func nav(b *bytes.Buffer, p *page) {
	b.WriteString("<ul class=\"nav\">\n")
	if u := p.Viewer; u != nil {
		navHome.write(b, p.Path == "/")
		navSearch.write(b, p.Path == "/search")
		navNotifications.open(b, p.Path == "/notifications")
		if n := p.Unread; n > 0 {
			shown, said := strconv.Itoa(n), strconv.Itoa(n)
			if n > 99 {
				shown, said = "99+", "more than 99"
			}
			b.WriteString(` <span class="count"><span aria-hidden="true">`)
			b.WriteString(shown)
			b.WriteString(`</span><span class="visually-hidden">, `)
			b.WriteString(said)
			b.WriteString(` unread</span></span>`)
		}
		b.WriteString("</a></li>\n")
		name := template.HTMLEscapeString(u.Username)
		b.WriteString(`<li><a class="me" href="/u/`)
		b.WriteString(name)
		b.WriteString(`"`)
		if len(p.Path) == 3+len(u.Username) && strings.HasPrefix(p.Path, "/u/") && p.Path[3:] == u.Username {
			b.WriteString(` aria-current="page"`)
		}
		b.WriteString(`><span class="avatar-sm hue-`)
		b.WriteString(strconv.Itoa(avatarHue(u.Username)))
		b.WriteString(`" aria-hidden="true">`)
		b.WriteString(template.HTMLEscapeString(initial(u.DisplayName)))
		b.WriteString(`</span>` + navLabelProfile + "</a></li>\n")
		navSettings.write(b, strings.HasPrefix(p.Path, "/settings"))
		b.WriteString(`<li><form method="post" action="/logout" class="inline">` + "\n" + `<input type="hidden" name="csrf_token" value="`)
		b.WriteString(template.HTMLEscapeString(p.CSRF))
		b.WriteString(navLogout)
	} else {
		navSearch.write(b, p.Path == "/search")
		navLogin.write(b, p.Path == "/login")
		b.WriteString(navSignUp)
	}
	b.WriteString("</ul>")
}

// navLink is a header link up to the end of its name, both as a link and
// as the link to the current page.
type navLink struct{ plain, current string }

// write writes the link.
func (l navLink) write(b *bytes.Buffer, current bool) {
	l.open(b, current)
	b.WriteString("</a></li>\n")
}

func newNavLink(href, label string, icon template.HTML) navLink {
	return navLink{
		plain:   `<li><a href="` + href + `">` + string(icon) + label,
		current: `<li><a href="` + href + `" aria-current="page">` + string(icon) + label,
	}
}

// open writes the link up to the end of its name, for more to follow.
func (l navLink) open(b *bytes.Buffer, current bool) {
	if current {
		b.WriteString(l.current)
	} else {
		b.WriteString(l.plain)
	}
}

func navLabel(s string) string { return `<span class="label">` + s + `</span>` }

var (
	navHome          = newNavLink("/", navLabel("Home"), icon("home"))
	navSearch        = newNavLink("/search", navLabel("Search"), icon("search"))
	navNotifications = newNavLink("/notifications", navLabel("Notifications"), icon("bell"))
	navSettings      = newNavLink("/settings/sessions", navLabel("Settings"), icon("settings"))
	navLogin         = newNavLink("/login", "Log in", "")
	navLabelProfile  = navLabel("Profile")
	navSignUp        = `<li><a class="button small" href="/signup">Sign up</a></li>` + "\n"
	navLogout        = `">` + "\n" + `<button type="submit" class="link">` + string(icon("logout")) + navLabel("Log out") + "</button>\n</form></li>\n"
)
