package web

import (
	"html/template"
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
	return template.FuncMap{"icon": icon, "hasPrefix": strings.HasPrefix, "initial": initial, "avatarHue": avatarHue}
}
