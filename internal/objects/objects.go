// Package objects keeps tenants' projects (S3 buckets) and the objects in
// them, for every transport: the S3-compatible API, SFTP and the console.
//
// # Encryption at rest
//
// Every object is stored as one or more chunked AES-256-GCM streams (see
// package keys), each under its own data key wrapped by the tenant's key,
// which the master key wraps (DAT-2). Object names and metadata are sealed
// under the tenant key too; a keyed MAC of the name finds an object without
// revealing it. The blob store sees ciphertext under opaque keys only.
//
// # Scanning before anything is visible
//
// An upload is hashed, encrypted to staging and streamed to the scanner in
// one pass; the object exists for readers only once the scanner has called
// it clean and the transaction that records it and its audit event has
// committed (DAT-3). Every scanner failure refuses the upload, unless the
// profile chooses quarantine-then-scan: then the object is kept hidden as
// pending until a scan clears it.
//
// # Deletion is key destruction
//
// Deleting an object deletes its wrapped data keys in the same transaction
// as its audit event, so that no copy of its blobs can be decrypted after
// the commit; the blobs themselves go afterwards (DAT-4).
//
// # Authorisation and audit
//
// Every call is decided by access.Decide and recorded in the audit trail:
// changes in their own transaction, reads through a group-committing
// recorder before any data is returned (AUD-2). A request that cannot be
// recorded fails.
package objects

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
	"strongroom/internal/blob"
	"strongroom/internal/keys"
	"strongroom/internal/policy"
	"strongroom/internal/scan"
)

// Typed identifiers.
type (
	ProjectID string
	ObjectID  string
	UploadID  string
)

// Project is a tenant's bucket.
type Project struct {
	ID        ProjectID
	Tenant    strongroom.TenantID
	Name      string
	Owner     strongroom.UserID
	CreatedAt time.Time
	// Retention deletes objects this long after they were stored (DAT-4);
	// zero keeps them until deleted.
	Retention time.Duration
	// Lock refuses deletion of an object until it is this old.
	Lock time.Duration
}

// Alert is something administrators must hear of at once (AUD-7).
type Alert struct {
	Tenant  strongroom.TenantID
	Kind    string // "malware"
	Subject string
	Body    string
}

// Service runs the data plane. Its methods may be called concurrently.
type Service struct {
	// Now returns the current time; time.Now if nil.
	Now func() time.Time
	// Policy is the profile in force; the baseline if nil.
	Policy *policy.Profile
	// OnAlert, if set, is called after malware is found. It must not block.
	OnAlert func(ctx context.Context, a Alert)
	// ReadOnly, if set, is asked before every change; an error refuses
	// the change with Unavailable (the disk guard).
	ReadOnly func() error
	// MaxScanSize, if positive, refuses objects larger than the scanner
	// examines. clamd answers "OK" for data past its MaxFileSize and
	// MaxScanSize limits without examining it, so without this bound a
	// large upload would pass unscanned (DAT-3).
	MaxScanSize int64
	// Schedules keeps scheduled exports; without it they are refused.
	Schedules ScheduleStore
	// OnRequest, if set, is told of each step of an access request after
	// it is committed, so that approvers and requesters can be mailed
	// (ACC-4). The tenant's administrators are approvers too: To names
	// only the project's owner and manage holders. It must not block.
	OnRequest func(ctx context.Context, n RequestNotice)
	// SuspendAccount suspends a user ID revoked in user revalidation
	// (ACC-5), ending its sessions and keys, with its own audit event; it
	// returns Conflict if the account is not active. Set by the
	// application from identity.
	SuspendAccount func(ctx context.Context, user strongroom.UserID, reason string) error
	// ReportSigner signs the reports of closed access reviews: the audit
	// trail's key, so that its public key checks them.
	ReportSigner note.Signer

	store   Store
	blobs   blob.Store
	master  *keys.MasterKey
	scanner scan.Scanner
	log     *slog.Logger
	reads   *audit.Recorder

	mu         sync.Mutex
	tenantKeys map[tenantKeyID]*keys.TenantKey
	current    map[strongroom.TenantID]currentVersion // each tenant's newest key version, briefly cached
	pins       map[tenantKeyID]int                    // writes in flight under each key version
}

// New returns a service keeping records in store and bytes in blobs,
// encrypting under master and scanning uploads with scanner.
func New(store Store, blobs blob.Store, master *keys.MasterKey, scanner scan.Scanner, logger *slog.Logger) *Service {
	s := &Service{
		store: store, blobs: blobs, master: master, scanner: scanner, log: logger,
		tenantKeys: make(map[tenantKeyID]*keys.TenantKey),
		current:    make(map[strongroom.TenantID]currentVersion),
		pins:       make(map[tenantKeyID]int),
	}
	s.reads = audit.NewRecorder(func(ctx context.Context, es []*audit.Event) error {
		return store.Update(ctx, func(tx Tx) error { return tx.AppendEvents(ctx, es) })
	})
	return s
}

// Close stops the read recorder after it has written what it holds.
func (s *Service) Close() { s.reads.Close() }

func (s *Service) policy() *policy.Profile {
	if s.Policy != nil {
		return s.Policy
	}
	return policy.Baseline()
}

func (s *Service) now() time.Time {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return now().UTC().Truncate(time.Microsecond)
}

// principal returns the caller, or Unauthenticated.
func principal(ctx context.Context, op string) (strongroom.Principal, error) {
	p, ok := strongroom.PrincipalFrom(ctx)
	if !ok || p.User == "" {
		return p, strongroom.E(op, strongroom.Unauthenticated, "sign in first")
	}
	return p, nil
}

// event returns a successful event by the caller in ctx.
func (s *Service) event(ctx context.Context, action string, tenant strongroom.TenantID, resource string, details map[string]string) *audit.Event {
	actor := audit.SystemActor
	privileged := false
	if p, ok := strongroom.PrincipalFrom(ctx); ok {
		actor = audit.Actor{User: p.User, Name: p.Name}
		privileged = p.Operator
	}
	c := strongroom.ClientFrom(ctx)
	var addr string
	if c.Addr.IsValid() {
		addr = c.Addr.String()
	}
	if c.Protocol != "" {
		if details == nil {
			details = map[string]string{}
		}
		details["protocol"] = c.Protocol
	}
	return &audit.Event{
		Time:       s.now(),
		Tenant:     tenant,
		Actor:      actor,
		Action:     action,
		Class:      audit.ClassDatastoreActivity,
		Resource:   resource,
		SourceAddr: addr,
		UserAgent:  c.UserAgent,
		Outcome:    audit.Success,
		Privileged: privileged,
		RequestID:  strongroom.RequestIDFrom(ctx),
		Details:    details,
	}
}

// decide asks access.Decide and, on a denial, records it and returns the
// Permission error. A denial that cannot be recorded is Unavailable.
func (s *Service) decide(ctx context.Context, op string, p strongroom.Principal, a access.Action, r access.Resource, resource string) error {
	d := access.Decide(p, a, r)
	if d.Allow {
		return nil
	}
	e := s.event(ctx, string(a), p.Tenant, resource, nil)
	e.Outcome, e.Reason, e.Clause = audit.Denied, d.Reason, d.Clause
	if err := s.reads.Record(ctx, e); err != nil {
		return strongroom.E(op, strongroom.Unavailable, "the audit trail cannot be written; nothing was done", err)
	}
	de := d.Err(op).(*strongroom.Error)
	de.Err = errRecorded
	return de
}

// errRecorded marks an error whose refusal is in the trail already.
var errRecorded = errors.New("recorded")

// failed records, for a call that ended in *err, an event with the
// outcome: denied for a refusal by a rule, failure for anything else
// (AUD-1, AUD-2). Refusals recorded where they were decided, calls
// without a signed-in caller, and failures of the trail itself are
// skipped. Deferred by every call on data.
func (s *Service) failed(ctx context.Context, action, resource string, err *error) {
	e0 := *err
	p, ok := strongroom.PrincipalFrom(ctx)
	if e0 == nil || !ok || p.User == "" || errors.Is(e0, errRecorded) {
		return
	}
	var se *strongroom.Error
	if errors.As(e0, &se) && se.Kind == strongroom.Unavailable && strings.Contains(se.Message, "audit trail") {
		return
	}
	e := s.event(ctx, action, p.Tenant, resource, nil)
	e.Outcome, e.Reason = audit.Failure, strongroom.PublicMessage(e0)
	if strongroom.Is(e0, strongroom.Permission) {
		e.Outcome = audit.Denied
		if errors.As(e0, &se) {
			e.Clause = se.Clause
		}
	}
	if rerr := s.reads.Record(context.WithoutCancel(ctx), e); rerr != nil {
		s.log.ErrorContext(ctx, "failed request not recorded", "action", action, "err", rerr)
	}
}

// update runs fn in a transaction after asking the disk guard.
func (s *Service) update(ctx context.Context, op string, fn func(Tx) error) error {
	if s.ReadOnly != nil {
		if err := s.ReadOnly(); err != nil {
			return strongroom.E(op, strongroom.Unavailable, strongroom.PublicMessage(err), err)
		}
	}
	return s.store.Update(ctx, fn)
}

// record writes a read's event durably before the read is answered.
func (s *Service) record(ctx context.Context, op string, e *audit.Event) error {
	if err := s.reads.Record(ctx, e); err != nil {
		return strongroom.E(op, strongroom.Unavailable, "the audit trail cannot be written; the request was refused", err)
	}
	return nil
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns prefix and 128 random bits in lower-case base32.
func newID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// wrap gives err the operation op unless it has one already; nil stays
// nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *strongroom.Error
	if errors.As(err, &e) && e.Op == op {
		return err
	}
	return strongroom.E(op, err)
}
