package demo_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/demo"
	"github.com/connectbook/connectbook/internal/testdb"
)

func TestFill(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			a, err := app.Open(ctx, app.Options{DB: be.DSN(t), Admin: true, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			now := time.Now()
			login, err := demo.Fill(ctx, a.DB, a.Account, now)
			if err != nil {
				t.Fatal(err)
			}
			if login.Username != demo.Username || len(login.Password) < 20 {
				t.Fatalf("login %+v", login)
			}
			me, err := a.DB.UserByUsername(ctx, demo.Username)
			if err != nil {
				t.Fatal(err)
			}
			feed, err := a.DB.HomeFeed(ctx, me.ID, 0, 20)
			if err != nil || len(feed) != 20 {
				t.Fatalf("the demo account's feed: %d posts, %v; want a full page", len(feed), err)
			}
			for i := 1; i < len(feed); i++ {
				if !feed[i].CreatedAt.Before(feed[i-1].CreatedAt) && !feed[i].CreatedAt.Equal(feed[i-1].CreatedAt) {
					t.Fatalf("feed out of time order at %d: %v after %v", i, feed[i].CreatedAt, feed[i-1].CreatedAt)
				}
			}
			followers, following, err := a.DB.FollowCounts(ctx, me.ID)
			if err != nil || followers < 5 || following < 5 {
				t.Fatalf("followers %d, following %d, %v", followers, following, err)
			}
			if n, err := a.DB.CountFollowRequests(ctx, me.ID); err != nil || n != 1 {
				t.Fatalf("follow requests %d, %v; want 1", n, err)
			}
			if n, err := a.DB.CountUnread(ctx, me.ID, 0, 100); err != nil || n == 0 {
				t.Fatalf("unread notifications %d, %v", n, err)
			}
			// The demo password signs in; a second run refuses.
			if _, err := a.Auth.Login(ctx, login.Username, login.Password, "127.0.0.1"); err != nil {
				t.Fatalf("signing in with the printed password: %v", err)
			}
			if _, err := demo.Fill(ctx, a.DB, a.Account, now); !errors.Is(err, demo.ErrFilled) {
				t.Fatalf("second run: %v, want ErrFilled", err)
			}
		})
	}
}
