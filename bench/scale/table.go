package main

import (
	"fmt"
	"io"
	"time"
)

// printTable writes the results as a Markdown table. Find's p99 at each
// size is also shown as a multiple of the store's p99 at the first size.
// Find's figures are medians of rounds (see measure).
func printTable(w io.Writer, results []result) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(w, "\n| store | sessions | fill/s | bytes/session | Find hit p50 | Find hit p99 | Find miss p50 | Find miss p99 | warm-up (faults per Find at first) | page faults per timed Find | Find hits/s (%d goroutines) | List p50 | List p99 | sweep, due (per %d) | sweep, idle p50 | sweep, idle p99 |\n",
		results[0].readers, sweepBatch)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var first result
	for _, r := range results {
		if r.store != first.store {
			first = r
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s (%.3f) | %.3f | %s | %s | %s | %s | %s | %s |\n",
			r.store, count(float64(r.sessions)), count(r.fillRate), count(float64(r.bytes)/float64(r.sessions)),
			dur(r.hit.p50), withRatio(r.hit.p99, first.hit.p99),
			dur(r.miss.p50), withRatio(r.miss.p99, first.miss.p99), r.warmUp, r.firstFaults, r.faults,
			count(r.hitsPerSecond),
			dur(quantile(r.list, 0.5)), dur(quantile(r.list, 0.99)),
			dur(mean(r.sweepDue)),
			dur(quantile(r.sweepIdle, 0.5)), dur(quantile(r.sweepIdle, 0.99)))
	}
}

func withRatio(d, base time.Duration) string {
	if base == 0 {
		return dur(d)
	}
	return fmt.Sprintf("%s (%.2f×)", dur(d), float64(d)/float64(base))
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// count writes n with thousands separators, rounded to an integer.
func count(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
