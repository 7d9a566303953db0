package audit

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
	"github.com/connectbook/connectbook/session"
)

func newLog(t *testing.T) (*Log, *bytes.Buffer, *time.Time) {
	db, err := data.Open(context.Background(), testdb.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var buf bytes.Buffer
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	l := &Log{DB: db, Logger: slog.New(slog.NewTextHandler(&buf, nil)), Now: func() time.Time { return now }}
	return l, &buf, &now
}

func kinds(t *testing.T, l *Log) map[string]int {
	list, err := l.DB.Events(context.Background(), 0, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, e := range list {
		m[e.Kind]++
	}
	return m
}

// A client sending bogus cookies as fast as it can writes a bounded number
// of rows; the count of the rest is kept.
func TestAnonymousNoiseIsRateLimited(t *testing.T) {
	l, logs, now := newLog(t)
	ctx := context.Background()
	ev := data.Event{Kind: string(session.EventUnknownToken), ClientIP: "203.0.113.5", Detail: "unknown token"}
	for range 500 {
		l.Record(ctx, ev)
	}
	other := ev
	other.ClientIP = "198.51.100.1"
	l.Record(ctx, other)                                       // another client is not affected
	l.Record(ctx, data.Event{Kind: LoginSucceeded, UserID: 1}) // nor are other events
	for range 30 {
		l.Record(ctx, data.Event{Kind: Logout, UserID: 1, ClientIP: "203.0.113.5"})
	}
	got := kinds(t, l)
	if got[ev.Kind] != burst+1 || got[LoginSucceeded] != 1 || got[Logout] != 30 {
		t.Fatalf("recorded %v; want %d unknown-token events (20 + 1 from another client), every other event", got, burst+1)
	}
	if !strings.Contains(logs.String(), "security events suppressed") {
		t.Fatal("the suppression was not logged")
	}
	// In the next window, the first one recorded carries the count.
	*now = now.Add(window)
	l.Record(ctx, ev)
	list, _ := l.DB.Events(ctx, 0, "", 1)
	if len(list) != 1 || !strings.Contains(list[0].Detail, "and 480 more like it, not recorded") {
		t.Fatalf("next event: %+v", list)
	}
}

func TestSessionEventsAreRecorded(t *testing.T) {
	l, logs, _ := newLog(t)
	l.SessionEvent(context.Background(), session.Event{Kind: session.EventCreated, UserID: "7", Session: "abcdef012345",
		ClientIP: "192.0.2.1", UserAgent: "ua", Time: time.Now()}, 7)
	list, err := l.DB.Events(context.Background(), 7, "", 10)
	if err != nil || len(list) != 1 || list[0].Session != "abcdef012345" || list[0].UserID != 7 {
		t.Fatalf("events = %+v, %v", list, err)
	}
	if !strings.Contains(logs.String(), "event=session_created") || !strings.Contains(logs.String(), "user_id=7") {
		t.Fatalf("log: %s", logs.String())
	}
}

// Replaying the token of an ended session names its user, but anyone who
// holds such a token can send it at will: those are limited too.
func TestEndedTokenReplaysAreRateLimited(t *testing.T) {
	l, _, _ := newLog(t)
	ctx := context.Background()
	for range 200 {
		l.Record(ctx, data.Event{Kind: string(session.EventEndedToken), UserID: 3, ClientIP: "203.0.113.5", Detail: "signed out"})
	}
	if got := kinds(t, l)[string(session.EventEndedToken)]; got != burst {
		t.Fatalf("recorded %d replays of an ended token, want %d", got, burst)
	}
}

// A name typed at a failed sign-in for no known account may be a password
// typed into the wrong field: the log line gets a hint of it, not all of
// it; the event keeps it for the account's owner only when it names one.
func TestFailedSignInNamesMaskedInLogs(t *testing.T) {
	l, buf, _ := newLog(t)
	l.Record(context.Background(), data.Event{Kind: LoginFailed, Username: "hunter22secret", ClientIP: "192.0.2.1"})
	l.Record(context.Background(), data.Event{Kind: LoginFailed, UserID: 7, Username: "alice", ClientIP: "192.0.2.1"})
	out := buf.String()
	if strings.Contains(out, "hunter22secret") || !strings.Contains(out, "hu… (14 characters)") {
		t.Fatalf("the typed name reached the log in full, or not masked as expected:\n%s", out)
	}
	if !strings.Contains(out, "username=alice") {
		t.Fatalf("an existing account's name was masked:\n%s", out)
	}
}
