//go:build unix

package main

import "syscall"

// pageFaults returns how many page faults the process has taken, minor and
// major: a Find that touches a part of the SQLite file its reader has not
// mapped yet takes one.
func pageFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return int64(ru.Minflt) + int64(ru.Majflt)
}
