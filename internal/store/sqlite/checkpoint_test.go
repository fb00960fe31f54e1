package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"strongroom/internal/audit"
)

// TestBackgroundCheckpoint: pages a commit wrote reach the database file
// without another commit and without an explicit checkpoint, so that no
// request's commit pays for copying the log (a commit of a few MiB stays
// far below the writer's own checkpoint threshold).
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strongroom.db")
	db := open(t, path)
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	at := time.Now()
	appendBatches(t, db, 10000, 10000, func(i int) *audit.Event { return benchEvent(i, at, "ten_bench", "object.read") })
	// About 4 MiB of table and index pages were committed to the log.
	deadline := time.Now().Add(30 * time.Second)
	for size() < before+3<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes after the commit (%d before): the log was not checkpointed in the background", size(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
