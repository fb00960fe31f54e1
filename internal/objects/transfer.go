package objects

import (
	"context"
	"errors"
	"strconv"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

// Transfer is one file transfer of a protocol that has them, such as an
// SFTP get or put from the open of a file to its close. The reads and
// writes it made record themselves (object.get, object.put); a transfer
// adds what only the transport knows: how many bytes moved, for how long,
// and how it ended.
type Transfer struct {
	Project, Name string
	// Upload is true for a transfer to Strongroom, false for one from it.
	Upload bool
	// Object is the object read or stored, if any.
	Object ObjectID
	// Offset is where a download started: not 0 when a client resumes.
	Offset int64
	// Bytes is how many bytes of the file moved.
	Bytes    int64
	Duration time.Duration
	// Err is why the transfer failed; nil if it completed.
	Err error
}

// RecordTransfer records a transfer of the caller in ctx as one audit
// event, "object.transfer", with the client's address and version from
// ctx. The event is durable when it returns: Unavailable if it cannot be
// written. A failed transfer is a failure, or a denial when a rule of the
// policy refused it (malware, DAT-3), with the reason users were given.
func (s *Service) RecordTransfer(ctx context.Context, t Transfer) error {
	const op = "objects.RecordTransfer"
	p, err := principal(ctx, op)
	if err != nil {
		return err
	}
	direction := "download"
	if t.Upload {
		direction = "upload"
	}
	details := map[string]string{
		"direction":   direction,
		"bytes":       strconv.FormatInt(t.Bytes, 10),
		"duration_ms": strconv.FormatInt(t.Duration.Milliseconds(), 10),
	}
	if t.Object != "" {
		details["object"] = string(t.Object)
	}
	if t.Offset != 0 {
		details["offset"] = strconv.FormatInt(t.Offset, 10)
	}
	e := s.event(ctx, "object.transfer", p.Tenant, t.Project+"/"+t.Name, details)
	if t.Err != nil {
		e.Outcome, e.Reason = audit.Failure, strongroom.PublicMessage(t.Err)
		if strongroom.Is(t.Err, strongroom.Permission) {
			e.Outcome = audit.Denied
			var se *strongroom.Error
			for err := t.Err; errors.As(err, &se); err = se.Err {
				if se.Clause != "" {
					e.Clause = se.Clause
					break
				}
			}
		}
	}
	return s.record(ctx, op, e)
}
