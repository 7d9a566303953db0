// Command bare is the baseline for bench/profile.sh: a bare net/http
// handler that answers every request with a fixed page of the size of
// ConnectBook's profile page, with no sessions, database or templates.
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	size := flag.Int("size", 2000, "bytes in the page")
	flag.Parse()
	page := []byte("<!doctype html><title>bare</title>" + strings.Repeat("x", max(*size-34, 0)))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
