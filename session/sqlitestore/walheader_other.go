//go:build !linux

package sqlitestore

// mapWALHeader: the cache needs SQLite's descriptor of the WAL index, found
// through /proc/self/fd, so it is off on other systems.
func mapWALHeader(string) (*walHeader, error) { return nil, errNoMmap }
