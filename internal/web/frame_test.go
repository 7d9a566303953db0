package web

import (
	"bytes"
	"html/template"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/web/ui"
)

// The frame and the pages written in Go write what the templates they
// replaced (testdata/base.html, testdata/profile.html) wrote, byte for
// byte, whatever the values: user input with markup, quotes, NULs and
// invalid UTF-8 included.
func TestGoPagesMatchTemplates(t *testing.T) {
	a := &app{Deps: Deps{Now: time.Now}}
	funcs := baseFuncs()
	funcs["when"] = a.when
	funcs["nav"] = func(p *page) template.HTML {
		var b bytes.Buffer
		nav(&b, p)
		return template.HTML(b.String())
	}
	old := template.Must(template.New("profile").Funcs(funcs).ParseFiles("testdata/base.html", "testdata/profile.html"))
	template.Must(old.ParseFS(ui.Files, "templates/settings_nav.html"))
	pages := mustParsePages(mergeFuncs(funcs, a))

	nasty := []string{"", "alice", `"><script>alert(1)</script>`, "a+b 'c' & <d>", "line\nbreak\r\n", "nul\x00byte",
		"\xff\xfe invalid", "émoji 😀 ‮rtl", strings.Repeat("x", 300), "javascript:alert(1)"}
	pick := func(r *rand.Rand) string { return nasty[r.IntN(len(nasty))] }
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		u := &data.User{Username: []string{"alice", "Bob_9", "x_y"}[i%3], DisplayName: pick(r), Bio: pick(r)}
		p := &page{Viewer: u, CSRF: pick(r), Path: "/profile", SettingsNav: settingsNavs["/profile"], Unread: r.IntN(120),
			Data: &profilePage{DisplayName: pick(r), Bio: pick(r), Error: pick(r), Field: []string{"", "display_name", "bio", "other"}[r.IntN(4)]}}
		if r.IntN(3) == 0 {
			p.Flash = pick(r)
		}
		if r.IntN(4) == 0 {
			p.Notices = []account.Notice{{ID: 7, Device: pick(r), ClientIP: pick(r), TokenReused: r.IntN(2) == 0}}
		}
		var want, got bytes.Buffer
		if err := old.ExecuteTemplate(&want, "base", p); err != nil {
			t.Fatal(err)
		}
		if err := writePage(&got, pages.page(""), p); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("case %d differs:\n got %q\nwant %q", i, got.String(), want.String())
		}
	}
}

func mergeFuncs(funcs template.FuncMap, a *app) template.FuncMap {
	m := template.FuncMap{"ago": a.ago, "post": func(string) template.HTML { return "" }, "plural": count,
		"slice1": func(p data.Post) []data.Post { return []data.Post{p} }, "relate": relateButton, "posts": a.postList}
	for k, v := range funcs {
		m[k] = v
	}
	return m
}
