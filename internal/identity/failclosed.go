package identity

import (
	"context"

	"strongroom"
	"strongroom/internal/audit"
)

// failClosed is the Store the service works on: the store it was given,
// with every audit event checked on its way in (AUD-2, fail closed).
//
// Every change the service makes appends its audit event in the same
// transaction, so refusing the event refuses the change: the transaction
// rolls back and the caller gets Unavailable, which the front ends answer
// with 503. That covers two cases:
//
//   - the event cannot be written (the store fails, the disk is full): a
//     change without its record would break the trail, so nothing changes;
//   - Service.ReadOnly refuses writes (the disk is nearly full): events
//     are what fills the disk, so no change that records one is made.
//
// Writes that record no event, such as a session's last-seen time, go
// through: they are small, overwrite rows in place, and keep signed-in
// users able to read while the server is read-only.
type failClosed struct {
	Store
	svc *Service
}

func (s failClosed) Update(ctx context.Context, fn func(Tx) error) error {
	return s.Store.Update(ctx, func(tx Tx) error { return fn(failClosedTx{tx, s.svc}) })
}

type failClosedTx struct {
	Tx
	svc *Service
}

// errUnrecorded is what a caller sees when the trail refuses an event.
const errUnrecorded = "the audit trail cannot be written, so nothing was changed; try again later"

func (tx failClosedTx) AppendEvent(ctx context.Context, e *audit.Event) error {
	const op = "identity.AppendEvent"
	if ro := tx.svc.ReadOnly; ro != nil {
		if err := ro(); err != nil {
			return strongroom.E(op, strongroom.Unavailable, err)
		}
	}
	err := tx.Tx.AppendEvent(ctx, e)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		tx.svc.log.ErrorContext(ctx, "audit event not written; the change it records is refused", "action", e.Action, "err", err)
	}
	return strongroom.E(op, strongroom.Unavailable, errUnrecorded, err)
}
