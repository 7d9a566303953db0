package data_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
)

// Instances started together on a fresh database all come up: one applies
// each migration, the others wait for it and find it applied.
func TestMigrationsStartingTogether(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			for round := range 10 {
				dsn := be.DSN(t)
				const instances = 6
				var wg sync.WaitGroup
				errs := make([]error, instances)
				start := make(chan struct{})
				for i := range instances {
					wg.Go(func() {
						<-start
						db, err := data.Open(context.Background(), dsn)
						if err == nil {
							db.Close()
						}
						errs[i] = err
					})
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("round %d: instance %d: %v", round, i, err)
					}
				}
				db := open(t, dsn)
				var n int
				files, _ := filepath.Glob("migrations/*.sql")
				if err := db.SQL.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
					t.Fatalf("round %d: %d migrations recorded (%v), want %d", round, n, err, len(files))
				}
			}
		})
	}
}
