//go:build linux

package sqlitestore

import (
	"os"
	"strconv"
	"syscall"
)

// mapWALHeader maps the start of the WAL index file at path read-only and
// shared, so that reads see every process's writes to it. It maps it
// through SQLite's own descriptor of the file, found in /proc/self/fd, and
// opens none of its own: closing a descriptor of a file drops every POSIX
// lock the process holds on it (fcntl(2)), SQLite's included, and without
// them another process takes the database for unused and deletes its log.
// The descriptor stays SQLite's; the map outlives it if SQLite closes it.
func mapWALHeader(path string) (*walHeader, error) {
	var want syscall.Stat_t
	if err := syscall.Stat(path, &want); err != nil {
		return nil, err
	}
	// Reading past the end of the file through the map would be a
	// SIGBUS; SQLite never shrinks the file while a connection holds it.
	n := 2 * walHeaderSize
	if want.Size < int64(n) {
		return nil, nil
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) != nil || st.Dev != want.Dev || st.Ino != want.Ino {
			continue
		}
		mem, err := syscall.Mmap(fd, 0, n, syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			continue
		}
		return &walHeader{mem: mem, unmap: func() error { return syscall.Munmap(mem) }}, nil
	}
	return nil, nil // not open here: SQLite keeps the index elsewhere
}
