package app_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/auth"
)

// The sign-in and sign-up limits an operator sets reach the account
// layer; unset, the defaults apply.
func TestLimitsSettings(t *testing.T) {
	open := func(o app.Options) *app.App {
		t.Helper()
		o.DB, o.Logger = filepath.Join(t.TempDir(), "c.db"), slog.New(slog.DiscardHandler)
		a, err := app.Open(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	a := open(app.Options{SignInsPerAccount: 3, SignInsPerNetwork: 9, SignUpsPerHour: 2})
	if a.Auth.SignInAccount.Free != 3 || a.Auth.SignInNetwork.Free != 9 || a.Auth.SignUpsPerHour != 2 {
		t.Fatalf("limits: %+v %+v %d", a.Auth.SignInAccount, a.Auth.SignInNetwork, a.Auth.SignUpsPerHour)
	}
	d := open(app.Options{})
	if d.Auth.SignInAccount != auth.SignInAccountPolicy || d.Auth.SignInNetwork != auth.SignInNetworkPolicy || d.Auth.SignUpsPerHour != auth.DefaultSignUpsPerHour {
		t.Fatalf("defaults: %+v %+v %d", d.Auth.SignInAccount, d.Auth.SignInNetwork, d.Auth.SignUpsPerHour)
	}
}
