package pgstore

// SweepStatements returns the statements of DeleteExpired, for tests of
// their plans: the one that runs every time, with parameters now and
// limit, and the one that forgets further endings, with parameter now.
func (s *Store) SweepStatements() (sweep, forget string) { return s.qSweep, s.qForget }
