package probe

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

type input struct {
	name, typ, value string
	checked          bool
}

type form struct {
	action *url.URL
	method string
	inputs []input
	text   string // the visible text inside, for recognising a logout button
}

type link struct {
	href *url.URL
	text string
	// method is a data-method attribute: Rails' script sends such a link
	// as a POST with _method and the page's CSRF token, in form.
	method string
	form   url.Values
}

// parsePage finds the forms and links of an HTML page at base.
func parsePage(base *url.URL, body string) (forms []form, links []link) {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return nil, nil
	}
	var cur *form
	var csrfParam, csrfToken string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Form:
				f := form{action: base, method: "GET"}
				if a, ok := attr(n, "action"); ok && a != "" {
					if u, err := base.Parse(a); err == nil {
						f.action = u
					}
				}
				if m, ok := attr(n, "method"); ok && strings.EqualFold(m, "post") {
					f.method = "POST"
				}
				f.text = textOf(n)
				forms = append(forms, f)
				cur = &forms[len(forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case atom.Input, atom.Button, atom.Textarea, atom.Select:
				if cur != nil {
					cur.inputs = append(cur.inputs, inputOf(n))
				}
			case atom.A:
				if h, ok := attr(n, "href"); ok {
					if u, err := base.Parse(h); err == nil {
						m, _ := attr(n, "data-method")
						links = append(links, link{href: u, text: textOf(n), method: strings.ToLower(m)})
					}
				}
			case atom.Meta:
				name, _ := attr(n, "name")
				content, _ := attr(n, "content")
				switch name {
				case "csrf-param":
					csrfParam = content
				case "csrf-token":
					csrfToken = content
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for i := range links {
		if links[i].method != "" && links[i].method != "get" {
			links[i].form = url.Values{"_method": {links[i].method}}
			if csrfParam != "" {
				links[i].form.Set(csrfParam, csrfToken)
			}
		}
	}
	return forms, links
}

func inputOf(n *html.Node) input {
	in := input{}
	in.name, _ = attr(n, "name")
	in.value, _ = attr(n, "value")
	_, in.checked = attr(n, "checked")
	switch n.DataAtom {
	case atom.Input:
		t, _ := attr(n, "type")
		in.typ = strings.ToLower(t)
		if in.typ == "" {
			in.typ = "text"
		}
	case atom.Button:
		t, _ := attr(n, "type")
		in.typ = strings.ToLower(t)
		if in.typ == "" {
			in.typ = "submit"
		}
	case atom.Textarea:
		in.typ, in.value = "textarea", textOf(n)
	case atom.Select:
		in.typ = "select"
		in.value = selectedOption(n)
	}
	return in
}

func selectedOption(n *html.Node) string {
	first, found := "", false
	var walk func(*html.Node) (string, bool)
	walk = func(n *html.Node) (string, bool) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.DataAtom == atom.Option {
				v, ok := attr(c, "value")
				if !ok {
					v = strings.TrimSpace(textOf(c))
				}
				if !found {
					first, found = v, true
				}
				if _, sel := attr(c, "selected"); sel {
					return v, true
				}
			}
			if v, ok := walk(c); ok {
				return v, true
			}
		}
		return "", false
	}
	if v, ok := walk(n); ok {
		return v
	}
	return first
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val, true
		}
	}
	return "", false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && n.DataAtom == atom.Input {
			if v, ok := attr(n, "value"); ok {
				if t, _ := attr(n, "type"); strings.EqualFold(t, "submit") {
					b.WriteString(" " + v + " ")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// loginForm picks the form to log in with: the first whose fields include
// every name in fields (if any are given), preferring one with at most one
// password field; else the first with exactly one password field (a
// sign-up or password-change form has two); else the first with any.
func loginForm(forms []form, fields map[string]string) (form, bool) {
	passwords := func(f form) int {
		n := 0
		for _, in := range f.inputs {
			if in.typ == "password" {
				n++
			}
		}
		return n
	}
	holds := func(f form) bool {
		names := map[string]bool{}
		for _, in := range f.inputs {
			names[in.name] = true
		}
		for k := range fields {
			if !names[k] {
				return false
			}
		}
		return true
	}
	var prefs []func(form) bool
	if len(fields) > 0 {
		prefs = append(prefs,
			func(f form) bool { return holds(f) && passwords(f) <= 1 },
			holds)
	}
	prefs = append(prefs,
		func(f form) bool { return passwords(f) == 1 },
		func(f form) bool { return passwords(f) > 0 })
	for _, pref := range prefs {
		for _, f := range forms {
			if pref(f) {
				return f, true
			}
		}
	}
	return form{}, false
}

// values fills f in as a browser would when its first submit button is
// pressed, with the username in the first text field, the password in the
// first password field, and fields over everything.
func (f form) values(username, password string, fields map[string]string) url.Values {
	v := url.Values{}
	userDone, passDone, submitDone := username == "", password == "", false
	for _, in := range f.inputs {
		if in.name == "" {
			continue
		}
		if _, ok := fields[in.name]; ok {
			continue
		}
		switch in.typ {
		case "submit", "image":
			if !submitDone {
				v.Add(in.name, in.value)
				submitDone = true
			}
		case "button", "reset", "file":
		case "checkbox", "radio":
			if in.checked {
				val := in.value
				if val == "" {
					val = "on"
				}
				v.Add(in.name, val)
			}
		case "password":
			if !passDone {
				v.Set(in.name, password)
				passDone = true
			} else {
				v.Add(in.name, in.value)
			}
		case "text", "email", "tel":
			if !userDone {
				v.Set(in.name, username)
				userDone = true
			} else {
				v.Add(in.name, in.value)
			}
		default:
			v.Add(in.name, in.value)
		}
	}
	for k, val := range fields {
		v.Set(k, val)
	}
	return v
}

var (
	// logoutSegment is a path segment that names a logout: /logout,
	// /users/sign_out, /logoff.php. ("Sign off" often means approve.)
	logoutSegment = regexp.MustCompile(`(?i)^(log[ _-]?(out|off)|sign[ _-]?out)(\.\w+)?$`)
	// logoutText is a button's or link's text that says log out.
	logoutText = regexp.MustCompile(`(?i)\b(log|sign)[ _-]?out\b`)
	// notThisBrowser is text about logging other sessions out.
	notThisBrowser = regexp.MustCompile(`(?i)\b(other|all|every\w*|devices?|sessions)\b`)
)

// logoutWay is a way to log out found on a page: a form or a link.
type logoutWay struct {
	form   *form
	link   *link
	byPath bool // its address names a logout, or is the one configured
}

func (w logoutWay) target() *url.URL {
	if w.form != nil {
		return w.form.action
	}
	return w.link.href
}

func (w logoutWay) String() string {
	if w.form != nil {
		return w.form.method + " " + w.form.action.Path
	}
	if w.link.form != nil {
		return "POST " + w.link.href.Path + " (" + w.link.method + ")"
	}
	return "GET " + w.link.href.Path
}

// logoutWays lists the ways to log out on a page, on the target's host,
// likeliest first: forms (a sound site logs out by POST), then links,
// whose address names a logout; then those whose short text says log out.
// With path set, only forms and links to that path count.
func logoutWays(base, page *url.URL, forms []form, links []link, path string) []logoutWay {
	rank := func(u *url.URL, text string, isLink bool) int {
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host != base.Host {
			return 0
		}
		if path != "" {
			if u.Path == path {
				return 2
			}
			return 0
		}
		if isLink && u.Path == page.Path && u.RawQuery == page.RawQuery {
			return 0 // "#" and links to the page itself
		}
		for seg := range strings.SplitSeq(u.Path, "/") {
			if logoutSegment.MatchString(seg) {
				return 2
			}
		}
		if len(text) <= 30 && logoutText.MatchString(text) && !notThisBrowser.MatchString(text) {
			return 1
		}
		return 0
	}
	var ways []logoutWay
	for _, want := range []int{2, 1} {
		for i := range forms {
			if rank(forms[i].action, forms[i].text, false) == want {
				ways = append(ways, logoutWay{form: &forms[i], byPath: want == 2})
			}
		}
		for i := range links {
			if rank(links[i].href, links[i].text, true) == want {
				ways = append(ways, logoutWay{link: &links[i], byPath: want == 2})
			}
		}
	}
	return ways
}

// hasPasswordField reports whether one of forms asks for a password: a
// login form, shown again after a failed login.
func hasPasswordField(forms []form) bool {
	return slices.ContainsFunc(forms, func(f form) bool {
		return slices.ContainsFunc(f.inputs, func(in input) bool { return in.typ == "password" })
	})
}
