//go:build unix

package sqlitestore

import (
	"os"
	"syscall"
)

// mapWALHeader maps the start of the WAL index file at path read-only and
// shared, so that reads see every process's writes to it.
func mapWALHeader(path string) (*walHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// Reading past the end of the file through the map would be a
	// SIGBUS; SQLite never shrinks the file while a connection holds it.
	n := 2 * walHeaderSize
	if fi.Size() < int64(n) {
		return nil, nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, n, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return &walHeader{mem: mem, unmap: func() error { return syscall.Munmap(mem) }}, nil
}
