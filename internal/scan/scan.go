// Package scan defines the virus scanner the upload pipeline needs (DAT-3):
// every upload is scanned before anyone can read it, while it is hashed and
// encrypted to staging, in one pass over the body. The scan/clamd package
// implements it on the ClamAV daemon.
//
// # Failing closed
//
// A scanner that cannot answer must never look like a scanner that found
// nothing. Every error from a [Scanner] or a [Session] therefore means "not
// known to be clean": callers treat each one as a failed scan and refuse the
// upload (or, where the policy profile chooses quarantine, keep it unreadable
// as pending). Only a [Verdict] returned with a nil error from
// [Session.Finish] says anything about the data, and only its Infected field
// decides.
//
// # Errors
//
// Scanners return *strongroom.Error values of Kind Unavailable when the
// scanner cannot be reached, times out, refuses the size of the stream,
// answers something it should not, or reports an error of its own; and when
// the caller's context ends before the verdict. Using a finished or aborted
// Session is an Internal error.
//
// # Signature versions
//
// A Verdict names the engine and signature-database version that produced
// it, so that objects scanned with older signatures can be found and
// scanned again when [Scanner.Version] reports a change.
package scan

import "context"

// Verdict is the scanner's answer for one stream.
type Verdict struct {
	// Infected is true when the scanner found malware in the stream.
	Infected bool
	// Signature names what was found, such as "Eicar-Test-Signature"; it
	// is empty when Infected is false.
	Signature string
	// Engine is the engine and signature-database version that produced
	// the verdict, for example "ClamAV 1.0.7/27450/Mon Nov 23 09:12:00
	// 2026". When the signatures change during a scan, it names the
	// version loaded when the scan began, so that a rescan is never
	// missed.
	Engine string
}

// Scanner scans streams. Its methods are safe for concurrent use; each
// Session belongs to one upload.
type Scanner interface {
	// Begin opens a scan of one stream. It returns Unavailable if the
	// scanner cannot be reached. Ending ctx aborts the Session: its Write
	// and Finish then return Unavailable. The caller must end every
	// Session it gets with Finish or Abort.
	Begin(ctx context.Context) (Session, error)

	// Version returns the engine and signature-database version the
	// scanner has loaded now, in the form of Verdict.Engine. It returns
	// Unavailable if the scanner cannot be reached.
	Version(ctx context.Context) (string, error)
}

// Session is one stream being scanned. One goroutine uses a Session at a
// time, except Abort, which any goroutine may call to stop a Session that
// is in use.
//
// Write sends bytes to the scanner. It may buffer and does not wait for the
// scanner to examine them, but holds at most a bounded amount of memory (a
// few chunks) however long the stream. Finish ends the stream and returns
// the verdict. Any failure of the scanner — connection refused or reset,
// a timeout, a size limit exceeded, a reply it cannot understand, an error
// the scanner reports — is an error of Kind Unavailable, never a clean
// verdict; after an error from Write, Finish returns an error too.
//
// Abort releases the Session without a verdict. It is safe to call after
// Finish and more than once, which is why callers defer it.
type Session interface {
	Write(p []byte) (int, error)
	Finish() (Verdict, error)
	Abort()
}
