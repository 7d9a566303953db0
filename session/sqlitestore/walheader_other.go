//go:build !unix

package sqlitestore

// mapWALHeader: no mmap here, so no cache.
func mapWALHeader(string) (*walHeader, error) { return nil, errNoMmap }
