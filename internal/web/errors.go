package web

import (
	"bytes"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/problem"
	"github.com/connectbook/connectbook/internal/web/ui"
	"github.com/connectbook/connectbook/session"
)

type errorPage struct {
	Title, Message string
}

// clientError renders a 4xx page with a message a person can act on.
func (a *app) clientError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	a.render(w, r, status, "error.html", &errorPage{Title: title, Message: msg})
}

// serverError logs err and renders a 500 page that says nothing of it, or
// the 503 page when the session store did not answer in time.
func (a *app) serverError(w http.ResponseWriter, r *http.Request, err error) {
	a.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	if errors.Is(err, session.ErrUnavailable) {
		Unavailable(w, r)
		return
	}
	a.render(w, r, http.StatusInternalServerError, "error.html", &errorPage{
		Title: "Something went wrong", Message: "ConnectBook hit a problem on its side. Please try again in a moment."})
}

// accountError returns err as *account.Error when it is one, or a
// problem.Error (the social packages') as one.
func accountError(err error) (*account.Error, bool) {
	var ae *account.Error
	if errors.As(err, &ae) {
		return ae, true
	}
	var pe *problem.Error
	if errors.As(err, &pe) {
		return &account.Error{Status: pe.Status, Field: pe.Field, Message: pe.Message, RetryAfter: pe.RetryAfter}, true
	}
	return nil, false
}

// fail answers an error of a domain call that has no form to show it on:
// a request's fault gets its status and message, a client that went away
// nothing, anything else a 500.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	if ae, ok := accountError(err); ok {
		a.failPage(w, r, ae)
		return
	}
	if a.gone(w, r, err) {
		return
	}
	a.serverError(w, r, err)
}

// failPage renders an account error as an error page.
func (a *app) failPage(w http.ResponseWriter, r *http.Request, ae *account.Error) {
	if ae.RetryAfter > 0 {
		retryAfter(w, ae.RetryAfter)
	}
	title := http.StatusText(ae.Status)
	switch ae.Status {
	case http.StatusNotFound:
		title = "Not found"
	case http.StatusServiceUnavailable:
		title = "Too busy right now"
	case http.StatusUnauthorized:
		title = "Signed out"
	}
	a.clientError(w, r, ae.Status, title, ae.Message)
}

// gone answers a request whose client went away (nobody reads the answer)
// and reports whether it did.
func (a *app) gone(w http.ResponseWriter, r *http.Request, err error) bool {
	if cerr := r.Context().Err(); cerr != nil && errors.Is(err, cerr) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	return false
}

// formError reports whether err belongs on the form (a request's fault);
// otherwise it has answered the request itself.
func (a *app) formError(w http.ResponseWriter, r *http.Request, err error) (*account.Error, bool) {
	ae, ok := accountError(err)
	if ok && ae.Status == http.StatusServiceUnavailable {
		a.failPage(w, r, ae)
		return nil, false
	}
	if ok {
		if ae.RetryAfter > 0 {
			retryAfter(w, ae.RetryAfter)
		}
		return ae, true
	}
	if !a.gone(w, r, err) {
		a.serverError(w, r, err)
	}
	return nil, false
}

func (a *app) methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		a.clientError(w, r, http.StatusMethodNotAllowed, "Not allowed", "This page does not accept that kind of request.")
	})
}

func (a *app) notFound(w http.ResponseWriter, r *http.Request) {
	a.clientError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
}

// parseForm parses a POST form within the body limit. Oversized bodies,
// malformed encodings and text that is not UTF-8 get a 4xx page; it
// reports whether the handler should go on.
func (a *app) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if r.PostForm != nil {
		return true
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.ContentLength != 0 && ct != "application/x-www-form-urlencoded" {
		a.clientError(w, r, http.StatusUnsupportedMediaType, "Unsupported form",
			"ConnectBook's forms are sent as application/x-www-form-urlencoded; this request was not.")
		return false
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.clientError(w, r, http.StatusRequestEntityTooLarge, "Too much data",
				"The form sent more data than ConnectBook accepts ("+strconv.Itoa(maxBody>>10)+" KB). Please shorten what you typed.")
			return false
		}
		a.clientError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Please reload the page and try again.")
		return false
	}
	// The handler's request is a copy of the session middleware's, so the
	// middleware would not see this form: report session-looking fields here.
	a.Sessions.ReportFormParams(r)
	for k, vs := range r.PostForm {
		if msg := badText(k); msg != "" {
			a.clientError(w, r, http.StatusBadRequest, "Bad request", msg)
			return false
		}
		for _, v := range vs {
			if msg := badText(v); msg != "" {
				a.clientError(w, r, http.StatusBadRequest, "Bad request", msg)
				return false
			}
		}
	}
	return true
}

// badText says what is wrong with a form value no field accepts: bytes
// that are not UTF-8 (lone surrogates and overlong forms included), or
// control characters other than tab and line breaks (NUL, escape…).
func badText(s string) string {
	if !utf8.ValidString(s) {
		return "The form contained text that is not valid UTF-8. Please check what you typed or pasted."
	}
	for _, c := range []byte(s) {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return "The form contained a control character (such as NUL) that no field accepts. Please check what you typed or pasted."
		}
	}
	return ""
}

func retryAfter(w http.ResponseWriter, d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return secs
}

// clip shortens s to n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// unavailablePage is the error page, parsed once, for Unavailable.
var unavailablePage = sync.OnceValue(func() *template.Template {
	funcs := baseFuncs()
	funcs["ago"] = func(time.Time) string { return "" }
	funcs["when"] = func(time.Time) string { return "" }
	return template.Must(template.New("error.html").Funcs(funcs).ParseFS(ui.Files, "templates/base.html", "templates/settings_nav.html", "templates/error.html"))
})

// Unavailable answers a request that cannot be served because a store did
// not answer in time: the site's own 503 page, as an anonymous visitor
// sees it (who the visitor is could not be read), with Retry-After. The
// caller has logged why.
func Unavailable(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	p := &page{Path: r.URL.Path, Data: &errorPage{Title: "Temporarily unavailable",
		Message: "ConnectBook cannot reach its session store right now. Please try again in a few seconds; if you were changing something, check afterwards whether it was saved."}}
	w.Header().Set("Retry-After", "5")
	w.Header().Set("Cache-Control", "no-store")
	if err := writePage(&buf, unavailablePage(), p); err != nil {
		http.Error(w, "ConnectBook is temporarily unavailable. Please try again in a few seconds.", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(buf.Bytes())
}
