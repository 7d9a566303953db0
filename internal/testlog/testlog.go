// Package testlog captures what an app under test logs, safely from every
// goroutine, for tests to search and to print when they fail.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer that many goroutines may write at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
