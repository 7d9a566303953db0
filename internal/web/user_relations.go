package web

import (
	"context"
	"net/http"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/follow"
)

// relation is one of the buttons on a profile: what it does, and the
// message after.
type relation struct {
	do    func(ctx context.Context, viewer int64, username string) (data.User, error)
	flash string
}

func (a *app) relations() map[string]relation {
	return map[string]relation{
		"unfollow": {a.Follow.Unfollow, "unfollowed"},
		"block":    {a.Follow.Block, "blocked"},
		"unblock":  {a.Follow.Unblock, "unblocked"},
		"mute":     {a.Follow.Mute, "muted"},
		"unmute":   {a.Follow.Unmute, "unmuted"},
	}
}

// userRelate handles POST /u/{username}/{action} for the relation named
// action, then goes back to the page the button was on.
func (a *app) userRelate(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := viewer(r)
		var u data.User
		var err error
		flash := ""
		if action == "follow" {
			var out follow.Outcome
			out, u, err = a.Follow.Follow(r.Context(), v.ID, r.PathValue("username"))
			flash = map[follow.Outcome]string{follow.Followed: "followed", follow.Requested: "requested"}[out]
		} else {
			rel := a.relations()[action]
			u, err = rel.do(r.Context(), v.ID, r.PathValue("username"))
			flash = rel.flash
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.flash(w, flash)
		http.Redirect(w, r, orDefault(safeNext(r.PostForm.Get("next")), "/u/"+u.Username), http.StatusSeeOther)
	}
}
