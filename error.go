package strongroom

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error so that each front end can map it once to its own
// status: an HTTP status, an S3 error code, an SFTP status or an exit code.
// Kinds are appended, never reordered.
type Kind uint8

const (
	Other           Kind = iota // unclassified; treated as Internal by front ends
	Invalid                     // the request or input is malformed or breaks a rule
	NotFound                    // the item does not exist, or the caller may not learn of it
	Conflict                    // the item exists already or changed concurrently
	Permission                  // the caller is known but not allowed
	Unauthenticated             // the caller could not be identified
	Unavailable                 // a dependency is down; retrying later may work
	Internal                    // a bug or an unexpected failure
	Throttled                   // too many requests from the caller; retry later
)

var kindNames = [...]string{
	Other:           "other error",
	Invalid:         "invalid",
	NotFound:        "not found",
	Conflict:        "conflict",
	Permission:      "permission denied",
	Unauthenticated: "unauthenticated",
	Unavailable:     "unavailable",
	Internal:        "internal error",
	Throttled:       "too many requests",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error is the error type of Strongroom.
//
// Message is safe to show to the user who made the request; Err is the
// underlying cause, which only operators see in their log. Clause names the
// requirement of the policy profile that caused a denial (for example
// "IAM-7"), so users and auditors can see why.
type Error struct {
	Op      string // operation, e.g. "identity.CreateUser"
	Kind    Kind
	Message string // safe for users
	Clause  string // requirement ID behind a policy denial, if any
	Err     error  // internal cause, never shown to users
}

// E builds an Error. Arguments are interpreted by type: a string is the
// message, a Kind the kind, an error the cause. An Op is set with Op.
func E(op string, args ...any) *Error {
	e := &Error{Op: op}
	for _, a := range args {
		switch a := a.(type) {
		case Kind:
			e.Kind = a
		case string:
			e.Message = a
		case error:
			e.Err = a
		default:
			panic(fmt.Sprintf("strongroom.E: bad argument %T", a))
		}
	}
	if e.Kind == Other && e.Err != nil {
		var inner *Error
		if errors.As(e.Err, &inner) {
			e.Kind = inner.Kind
		}
	}
	return e
}

// Denied builds a Permission error for a rule of the policy profile.
func Denied(op, clause, message string) *Error {
	return &Error{Op: op, Kind: Permission, Clause: clause, Message: message}
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	switch {
	case e.Message != "":
		b.WriteString(e.Message)
	case e.Err == nil:
		b.WriteString(e.Kind.String())
	}
	if e.Clause != "" {
		fmt.Fprintf(&b, " (%s)", e.Clause)
	}
	if e.Err != nil {
		if e.Message != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the outermost *Error in err's chain that has
// one, Internal for any other non-nil error, and Other for nil.
func KindOf(err error) Kind {
	if err == nil {
		return Other
	}
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			break
		}
		if e.Kind != Other {
			return e.Kind
		}
		err = e.Err
	}
	return Internal
}

// Is reports whether err has kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// PublicMessage returns the text a user may see for err: the first Message
// in the chain with its clause, or the kind's name when no message is safe
// to show.
func PublicMessage(err error) string {
	kind := KindOf(err)
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			break
		}
		if e.Message != "" {
			if e.Clause != "" {
				return fmt.Sprintf("%s (%s)", e.Message, e.Clause)
			}
			return e.Message
		}
		err = e.Err
	}
	return kind.String()
}
