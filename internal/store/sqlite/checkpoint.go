package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"
)

// WAL checkpointing.
//
// Left to itself, SQLite copies the write-ahead log back into the database
// file (a checkpoint) inside the commit that takes the log past 1000
// pages: that commit then also writes and syncs the database file, about a
// tenth of the cost of a batched append, on the one write connection every
// request waits for. Strongroom moves that work to a connection of its own
// in the background: after commits it runs PASSIVE checkpoints, which
// copy what no reader still needs without ever blocking the writer, and
// the writer starts the log over once all of it was copied. The writer's
// own automatic checkpoint stays as a backstop at a much larger log
// (writerAutoCheckpoint), reached only if the background falls behind.

const (
	// writerAutoCheckpoint is the log size, in pages, at which a commit
	// checkpoints by itself: 64 MiB of 4 KiB pages.
	writerAutoCheckpoint = 16384
	// checkpointInterval is the least time between two background
	// checkpoints. A checkpoint syncs the database file once whatever it
	// copies, so under a steady stream of commits one per interval is
	// enough, and a quiet server checkpoints right after its last commit.
	checkpointInterval = 100 * time.Millisecond
)

// checkpointer runs background checkpoints on its own connection.
type checkpointer struct {
	conn *sql.DB
	log  *slog.Logger
	kick chan struct{}
	stop chan struct{}
	done sync.WaitGroup
}

func startCheckpointer(conn *sql.DB, logger *slog.Logger) *checkpointer {
	c := &checkpointer{conn: conn, log: logger, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	return c
}

// committed tells the checkpointer that the log grew; it never blocks.
// c may be nil.
func (c *checkpointer) committed() {
	if c == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer c.done.Done()
	pause := time.NewTimer(0)
	<-pause.C
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		var busy, logPages, moved int
		err := c.conn.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &moved)
		if err != nil {
			// The next commit tries again; if none succeeds, the
			// writer's own checkpoint still bounds the log.
			c.log.Warn("background checkpoint failed", "err", err)
		}
		pause.Reset(checkpointInterval)
		select {
		case <-c.stop:
			pause.Stop()
			return
		case <-pause.C:
		}
	}
}

// close stops the checkpointer and closes its connection; c may be nil.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	close(c.stop)
	c.done.Wait()
	return c.conn.Close()
}

// openCheckpointer opens the checkpoint connection on path with the
// parameters every connection has.
func openCheckpointer(ctx context.Context, path, params string, logger *slog.Logger) (*checkpointer, error) {
	conn, err := sql.Open("sqlite", path+"?"+params)
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(0)
	conn.SetConnMaxIdleTime(0)
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return startCheckpointer(conn, logger), nil
}
