package data_test

import (
	"context"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
)

// Following, unfollowing and following again (or asking again) leaves one
// notification, not one each time.
func TestFollowNotifiesOnce(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t, be.DSN(t))
			now := time.Now()
			a, err := db.CreateUser(ctx, "anna", "Anna", "x", now)
			if err != nil {
				t.Fatal(err)
			}
			b, err := db.CreateUser(ctx, "bert", "Bert", "x", now)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := db.Follow(ctx, a.ID, b.ID, now); err != nil {
					t.Fatal(err)
				}
				if err := db.Unfollow(ctx, a.ID, b.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := db.RequestFollow(ctx, a.ID, b.ID, now); err != nil {
					t.Fatal(err)
				}
				if err := db.Unfollow(ctx, a.ID, b.ID); err != nil {
					t.Fatal(err)
				}
			}
			list, err := db.Notifications(ctx, b.ID, 0, 50)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, n := range list {
				kinds[n.Kind]++
			}
			if kinds[data.NotifyFollow] != 1 || kinds[data.NotifyFollowRequest] != 1 || len(list) != 2 {
				t.Fatalf("notifications %v; want one follow and one request", kinds)
			}
		})
	}
}
