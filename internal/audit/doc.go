// Package audit defines the audit trail of Strongroom: what an event records,
// how it is encoded, and how domain services append events.
//
// # Same transaction
//
// A domain service appends the event that records a change in the same
// database transaction as the change itself, through the [Appender] its
// transaction provides. If the change rolls back, so does the event; if the
// event cannot be written, the change does not happen. An action without its
// record cannot exist.
//
// # Encoding
//
// Each event is stored as the bytes [Marshal] returns: canonical JSON with a
// fixed field order, sorted detail keys, UTC times and no insignificant
// white space. Those exact bytes are what the tamper-evident log hashes, so
// stores keep them as they are and never encode an event again after it has
// been written. The sequence number is not part of the encoding: it is the
// event's position in the log, which the log binds by itself.
//
// # Secrets
//
// An event never holds a secret: no password, token, key or hash of one. It
// names the resource and the actor, and what happened to them.
package audit
