package web

import (
	"net/http"
	"strconv"
	"time"
)

// robotsTxt lets search engines read public pages, not personal ones.
const robotsTxt = `User-agent: *
Disallow: /settings
Disallow: /profile
Disallow: /notifications
Disallow: /follow-requests
Disallow: /logout
Allow: /
`

func (a *app) robots(w http.ResponseWriter, r *http.Request) {
	a.asset(w, r, "text/plain; charset=utf-8", []byte(robotsTxt))
}

func (a *app) favicon(w http.ResponseWriter, r *http.Request) {
	a.asset(w, r, "image/x-icon", faviconICO())
}

func (a *app) appleTouchIcon(w http.ResponseWriter, r *http.Request) {
	a.asset(w, r, "image/png", appleTouchIcon())
}

// asset answers with a fixed file, cacheable for a day.
func (a *app) asset(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(24*time.Hour/time.Second)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// security is "How we keep your account safe", for everyone.
func (a *app) security(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "security.html", nil)
}
