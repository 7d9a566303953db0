package web

import (
	"bytes"
	"net/http"
	"net/url"
)

type profilePage struct {
	DisplayName, Bio, Error, Field string
}

func (a *app) profileForm(w http.ResponseWriter, r *http.Request) {
	u := viewer(r)
	a.render(w, r, http.StatusOK, "", &profilePage{DisplayName: u.DisplayName, Bio: u.Bio})
}

func (a *app) profileSubmit(w http.ResponseWriter, r *http.Request) {
	page := &profilePage{DisplayName: r.PostForm.Get("display_name"), Bio: r.PostForm.Get("bio")}
	if err := a.Account.UpdateProfile(r, page.DisplayName, page.Bio); err != nil {
		if ae, ok := a.formError(w, r, err); ok {
			page.Error, page.Field = ae.Message, ae.Field
			a.render(w, r, ae.Status, "", page)
		}
		return
	}
	a.flash(w, "saved")
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
}

// The profile form is where a signed-in visit to the settings starts, so
// it is written here rather than by a template's actions (see frame.go);
// every value is escaped as a template would.

func (*profilePage) title() string { return "Your profile" }

func (pp *profilePage) writeMain(b *bytes.Buffer, p *page) {
	name := escapeHTML(p.Viewer.Username)
	b.WriteString("\n")
	b.WriteString(string(p.SettingsNav))
	b.WriteString("\n<section class=\"card\">\n<h1>Welcome, ")
	b.WriteString(name)
	b.WriteString("!</h1>\n<p class=\"muted\">This is your profile. <a href=\"/u/")
	b.WriteString(escapeHTML(url.PathEscape(p.Viewer.Username)))
	b.WriteString("\">See it as others do</a>.</p>\n")
	if pp.Error != "" {
		b.WriteString(`<p class="error" role="alert" id="form-error">`)
		b.WriteString(escapeHTML(pp.Error))
		b.WriteString("</p>")
	}
	b.WriteString("\n<form method=\"post\" action=\"/profile\">\n<input type=\"hidden\" name=\"csrf_token\" value=\"")
	b.WriteString(escapeHTML(p.CSRF))
	b.WriteString("\">\n<label for=\"display_name\">Display name</label>\n<input id=\"display_name\" name=\"display_name\" value=\"")
	b.WriteString(escapeHTML(pp.DisplayName))
	b.WriteString(`" required maxlength="50" autocomplete="name"`)
	if pp.Field == "display_name" {
		b.WriteString(` aria-invalid="true" aria-describedby="form-error" autofocus`)
	}
	b.WriteString(">\n<label for=\"bio\">Bio</label>\n<textarea id=\"bio\" name=\"bio\" rows=\"4\" maxlength=\"300\"")
	if pp.Field == "bio" {
		b.WriteString(` aria-invalid="true" aria-describedby="form-error bio-hint" autofocus`)
	} else {
		b.WriteString(` aria-describedby="bio-hint"`)
	}
	b.WriteString(">")
	b.WriteString(escapeHTML(pp.Bio))
	b.WriteString("</textarea>\n<p class=\"hint\" id=\"bio-hint\">Up to 300 characters. Everyone who can see your profile sees it.</p>\n" +
		"<button type=\"submit\">Save profile</button>\n</form>\n</section>\n")
}
