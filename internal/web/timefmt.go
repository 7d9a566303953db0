package web

import (
	"strconv"
	"time"
)

// ago says how long before now t was, in words: "just now", "5 minutes
// ago", "3 hours ago", "yesterday", "4 days ago".
func (a *app) ago(t time.Time) string {
	d := a.Now().Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return count(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return count(int(d/time.Hour), "hour") + " ago"
	case d < 48*time.Hour:
		return "yesterday"
	case d < 60*24*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
	}
	return "on " + t.UTC().Format("2 January 2006")
}

// when gives a moment in the viewer's terms, in UTC: "today 14:02 UTC",
// "yesterday 09:10 UTC", "3 Nov 14:02 UTC", "3 Nov 2025 14:02 UTC".
func (a *app) when(t time.Time) string {
	t = t.UTC()
	now := a.Now().UTC()
	clock := t.Format("15:04") + " UTC"
	ty, tm, td := t.Date()
	ny, nm, nd := now.Date()
	switch {
	case ty == ny && tm == nm && td == nd:
		return "today " + clock
	case sameDay(t, now.AddDate(0, 0, -1)):
		return "yesterday " + clock
	case ty == ny:
		return t.Format("2 Jan") + " " + clock
	}
	return t.Format("2 Jan 2006") + " " + clock
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
