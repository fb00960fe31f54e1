package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"strongroom"
)

// Class is the OCSF event class of an event (its class_uid), so that the
// trail can be exported to and read by security tools that speak OCSF.
type Class uint32

// Event classes used by Strongroom.
const (
	ClassAccountChange        Class = 3001 // a user was created, changed, suspended or removed
	ClassAuthentication       Class = 3002 // sign-in, sign-out, MFA
	ClassEntityManagement     Class = 3004 // a managed entity such as a tenant was created or changed
	ClassUserAccessManagement Class = 3005 // privileges, roles and grants changed
	ClassGroupManagement      Class = 3006 // a group or its membership changed
	ClassAPIActivity          Class = 6003 // a call on the management API
	ClassDatastoreActivity    Class = 6005 // a read or write of stored data
)

// Outcome says how an attempted action ended.
type Outcome string

// Outcomes of an action.
const (
	Success Outcome = "success" // the action was carried out
	Failure Outcome = "failure" // the action failed, for example a wrong password
	Denied  Outcome = "denied"  // a rule of the policy refused the action
)

// Actor is who performed an action.
type Actor struct {
	User strongroom.UserID // empty for the system itself
	Name string            // user name at the time, or "system"
}

// SystemActor is the actor of actions no signed-in user performed, such as
// those of strongroom init.
var SystemActor = Actor{Name: "system"}

// Event is one record of the audit trail.
type Event struct {
	// Seq is the event's position in the log, assigned by the store when
	// the event is appended. Sequence numbers increase and are never reused.
	Seq uint64

	Time       time.Time
	Tenant     strongroom.TenantID // tenant the action concerns; empty for platform-wide actions
	Actor      Actor
	Action     string // stable dotted code, e.g. "user.create"
	Class      Class  // OCSF class
	Resource   string // ID of the resource acted on, e.g. "usr_..."
	SourceAddr string // network address of the client, if any
	UserAgent  string // client software, if known
	Outcome    Outcome
	Reason     string // why the outcome was what it was, for failures and denials
	Clause     string // policy clause behind a denial, e.g. "IAM-7"
	Privileged bool   // the actor used administrative rights (AUD-3)
	RequestID  strongroom.RequestID
	Details    map[string]string // further facts; never secrets

	// Encoded holds the exact bytes the store wrote for this event. Stores
	// set it when they append or read an event; it is what the log hashes.
	Encoded []byte
}

// Appender appends events to the audit trail within the caller's
// transaction. A store's transaction type implements it.
type Appender interface {
	// AppendEvent encodes e with Marshal, writes it, and sets e.Seq and
	// e.Encoded. The event becomes durable only when the surrounding
	// transaction commits, and vanishes if it rolls back. It returns
	// Invalid if e is incomplete (see Marshal) and Internal if writing
	// fails.
	AppendEvent(ctx context.Context, e *Event) error
}

// EventFilter selects events. Zero fields match everything.
type EventFilter struct {
	Tenant   strongroom.TenantID
	Action   string
	AfterSeq uint64 // only events with a greater sequence number
	Limit    int    // at most this many; 0 means no limit
}

// Finder reads the audit trail.
type Finder interface {
	// FindEvents returns the events matching f in order of increasing
	// sequence number, decoded from their stored bytes. It returns Internal
	// if reading fails or a stored event cannot be decoded.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, error)
}

// version is the encoding version written into every event.
const version = 1

// wire is the encoding of an event. Its field order is the canonical order;
// it only ever gains optional fields, with a new version.
type wire struct {
	V          int               `json:"v"`
	Time       string            `json:"time"`
	Tenant     string            `json:"tenant,omitempty"`
	ActorUser  string            `json:"actor_user,omitempty"`
	ActorName  string            `json:"actor_name"`
	Action     string            `json:"action"`
	Class      Class             `json:"class_uid"`
	Resource   string            `json:"resource,omitempty"`
	SourceAddr string            `json:"src_addr,omitempty"`
	UserAgent  string            `json:"user_agent,omitempty"`
	Outcome    Outcome           `json:"outcome"`
	Reason     string            `json:"reason,omitempty"`
	Clause     string            `json:"clause,omitempty"`
	Privileged bool              `json:"privileged,omitempty"`
	RequestID  string            `json:"request_id,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
}

// Validate reports whether e is complete enough to be recorded: it needs a
// time, an actor name, a dotted action code, a class and a known outcome.
// It returns an Invalid error naming the first problem.
func (e *Event) Validate() error {
	const op = "audit.Validate"
	switch {
	case e.Time.IsZero():
		return strongroom.E(op, strongroom.Invalid, "event has no time")
	case e.Actor.Name == "":
		return strongroom.E(op, strongroom.Invalid, "event has no actor name")
	case !validAction(e.Action):
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("event action %q is not a dotted code such as \"user.create\"", e.Action))
	case e.Class == 0:
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("event %s has no class", e.Action))
	}
	switch e.Outcome {
	case Success, Failure, Denied:
	default:
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("event %s has unknown outcome %q", e.Action, e.Outcome))
	}
	for k := range e.Details {
		if k == "" {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("event %s has a detail with an empty key", e.Action))
		}
	}
	return nil
}

// Marshal returns the canonical encoding of e, which does not include
// e.Seq or e.Encoded. Encoding the same event twice gives the same bytes.
// It returns an Invalid error if e fails Validate.
func Marshal(e *Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return appendEvent(make([]byte, 0, encodedSizeHint(e)), e), nil
}

// encodedSizeHint is a little more than the encoding of e usually takes,
// so that it is written into one allocation.
func encodedSizeHint(e *Event) int {
	n := 256 + len(e.Tenant) + len(e.Actor.User) + len(e.Actor.Name) + len(e.Action) + len(e.Resource) +
		len(e.SourceAddr) + len(e.UserAgent) + len(e.Reason) + len(e.Clause) + len(e.RequestID)
	for k, v := range e.Details {
		n += len(k) + len(v) + 6
	}
	return n
}

// Unmarshal decodes an event encoded by Marshal. The result keeps data as
// its Encoded bytes; its Seq is left for the caller to set. It returns an
// Internal error for anything Marshal would not have written, since stored
// events that do not decode mean corruption or tampering.
func Unmarshal(data []byte) (*Event, error) {
	const op = "audit.Unmarshal"
	var w wire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	if dec.More() {
		return nil, strongroom.E(op, strongroom.Internal, errors.New("trailing data after event"))
	}
	if w.V != version {
		return nil, strongroom.E(op, strongroom.Internal, fmt.Errorf("unknown event version %d", w.V))
	}
	t, err := time.Parse(time.RFC3339Nano, w.Time)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	e := &Event{
		Time:       t,
		Tenant:     strongroom.TenantID(w.Tenant),
		Actor:      Actor{User: strongroom.UserID(w.ActorUser), Name: w.ActorName},
		Action:     w.Action,
		Class:      w.Class,
		Resource:   w.Resource,
		SourceAddr: w.SourceAddr,
		UserAgent:  w.UserAgent,
		Outcome:    w.Outcome,
		Reason:     w.Reason,
		Clause:     w.Clause,
		Privileged: w.Privileged,
		RequestID:  strongroom.RequestID(w.RequestID),
		Details:    w.Details,
		Encoded:    data,
	}
	if err := e.Validate(); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	return e, nil
}
