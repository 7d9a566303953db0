package web

import "net/http"

func (a *app) noticeDismiss(w http.ResponseWriter, r *http.Request) {
	if err := a.Account.DismissNotice(r, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	a.flash(w, "notice_dismissed")
	http.Redirect(w, r, orDefault(safeNext(r.PostForm.Get("next")), "/"), http.StatusSeeOther)
}
