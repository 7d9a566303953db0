package main

import (
	"context"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"

	"github.com/connectbook/connectbook/internal/cli"
	"github.com/connectbook/connectbook/internal/web"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	st, err := cli.OpenStores(context.Background(), cli.StoreOptions{DB: os.Args[1], IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, ClientIP: web.ClientIP(false), Logger: logger})
	if err != nil {
		panic(err)
	}
	go http.ListenAndServe("127.0.0.1:6060", nil)
	h := web.New(web.Deps{DB: st.DB, Auth: st.Auth, Sessions: st.Sessions, Audit: st.Audit, Logger: logger})
	http.ListenAndServe("127.0.0.1:8090", h)
}
