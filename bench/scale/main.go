// Command scale measures the session stores as they grow: it fills each
// store with sessions through the session.Store API, and at each size
// measures Find (sessions that exist and IDs that do not), List and the
// expiry sweep, then prints a table.
//
//	go run ./bench/scale [-stores sqlite,postgres,redis] [-sizes 10000,100000,1000000]
//
// Each store gets a place of its own, which must not exist yet and which
// the run removes at the end: a SQLite file in a new temporary directory,
// a PostgreSQL table (and its _endings table), a Redis key prefix.
//
// At each size, besides the N sessions that stay, the fill adds N/10 whose
// idle deadline has passed, and then (on PostgreSQL) runs ANALYZE, as
// autovacuum does after a large insert: the statistics then say that a
// tenth of the table is due. The sweep deletes those in batches of 500
// ("sweep, due"), and is then timed with nothing due ("sweep, idle"), as a
// server's sweeper runs every minute, with the statistics still from
// before.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the flags set.
type config struct {
	stores   []string
	sizes    []int
	postgres string
	redis    string
	table    string
	prefix   string
	dir      string
	samples  int
	rounds   int
	lists    int
	sweeps   int
	workers  int
	readers  int
	duration time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	// An interrupt stops the measurement; what the run created is still
	// removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg          config
		stores, size string
	)
	fs.StringVar(&stores, "stores", "sqlite,postgres,redis", "stores to measure, in order")
	fs.StringVar(&size, "sizes", "10000,100000,1000000", "numbers of sessions at which to measure, increasing")
	fs.StringVar(&cfg.postgres, "postgres", "postgres://root@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL")
	fs.StringVar(&cfg.redis, "redis", "redis://127.0.0.1:6379/0", "Redis URL")
	fs.StringVar(&cfg.table, "table", "sessions_scale", "PostgreSQL table, which must not exist (dropped at the end)")
	fs.StringVar(&cfg.prefix, "prefix", "cb:scale:", "Redis key prefix, under which no key may exist (all deleted at the end)")
	fs.StringVar(&cfg.dir, "dir", "", "directory for the SQLite file (default: a new temporary directory)")
	fs.IntVar(&cfg.samples, "samples", 10000, "timed Finds per round, case and size")
	fs.IntVar(&cfg.rounds, "rounds", 5, "rounds of timed Finds per case and size")
	fs.IntVar(&cfg.lists, "lists", 2000, "timed Lists per size")
	fs.IntVar(&cfg.sweeps, "sweeps", 30, "timed idle sweeps per size")
	fs.IntVar(&cfg.workers, "workers", 16, "goroutines filling the store")
	fs.IntVar(&cfg.readers, "readers", 8, "goroutines of the Find throughput measurement")
	fs.DurationVar(&cfg.duration, "duration", 2*time.Second, "length of the Find warm-up and of the throughput measurement")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.stores = strings.Split(stores, ",")
	for _, s := range strings.Split(size, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 4 || len(cfg.sizes) > 0 && n <= cfg.sizes[len(cfg.sizes)-1] {
			fmt.Fprintf(stderr, "scale: -sizes: want increasing numbers of at least 4, got %q\n", size)
			return 2
		}
		cfg.sizes = append(cfg.sizes, n)
	}

	var results []result
	for _, name := range cfg.stores {
		rs, err := measureStore(ctx, cfg, name, stderr)
		results = append(results, rs...)
		if err != nil {
			fmt.Fprintf(stderr, "scale: %s: %v\n", name, err)
			printTable(stdout, results)
			return 1
		}
	}
	printTable(stdout, results)
	return 0
}

// measureStore opens the store, measures it at every size and removes what
// it created.
func measureStore(ctx context.Context, cfg config, name string, log io.Writer) (results []result, err error) {
	b, err := openBackend(ctx, cfg, name)
	if err != nil {
		return nil, err
	}
	defer func() {
		// Clean up even after an interrupt.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := b.close(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("cleaning up: %w", cerr)
		}
	}()
	f := newFiller(b.store, time.Now().UTC().Truncate(time.Microsecond))
	prev := 0
	for _, n := range cfg.sizes {
		fmt.Fprintf(log, "%s: filling to %d sessions (+%d due)\n", name, n, n/10)
		start := time.Now()
		if err := f.fill(ctx, n, n/10, cfg.workers); err != nil {
			return results, err
		}
		r := result{store: b.name, sessions: n, fillRate: float64(n-prev+n/10) / time.Since(start).Seconds()}
		prev = n
		if b.analyze != nil {
			if err := b.analyze(ctx); err != nil {
				return results, fmt.Errorf("analyze: %w", err)
			}
		}
		fmt.Fprintf(log, "%s: measuring at %d\n", name, n)
		if err := f.measure(ctx, cfg, &r); err != nil {
			return results, err
		}
		// After the sweep, so that Redis's figure is of the N sessions
		// alone; the files and tables keep the space of the rows swept.
		if r.bytes, err = b.size(ctx); err != nil {
			return results, fmt.Errorf("size: %w", err)
		}
		results = append(results, r)
	}
	return results, nil
}
