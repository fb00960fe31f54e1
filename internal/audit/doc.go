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
//
// # Integrity
//
// The [Integrator] takes committed events in order of sequence number and
// appends each to the Merkle tree of its tenant and UTC day (the platform's
// events, which concern no tenant, have trees of their own), hashing the
// stored bytes as RFC 6962 leaves. After every batch it signs a checkpoint
// of each tree it changed: a signed note (golang.org/x/mod/sumdb/note) in
// the transparency-dev checkpoint format, whose origin names the
// installation's key, the tenant and the day. Once a day has ended (plus
// a grace period for late commits) it is sealed: a last checkpoint with a
// line naming the hash of the tenant's previous seal, so each tenant's
// days form a chain. Quiet days get empty sealed trees, so a tenant has a
// tree for every day from its first and a day removed from the middle
// shows. One integrator works at a time, by a lease in the store.
//
// # Retention
//
// Days whose end is more than the profile's audit.retention ago lose
// their events and leaves (AUD-4); their seals stay, so the chain still
// verifies, and each expiry is itself an event carrying the day's tenant,
// size and root, written in the same transaction as the deletion.
//
// # Verification
//
// [Verify] needs nothing but the public key and a [Source]: a database, an
// export directory or a server's API. It checks every signature, the
// chain of seals, every retained day's root recomputed from its stored
// bytes, and consistency proofs to checkpoints verified before, and names
// the day and, where it can, the event that differs. [VerifyInclusion]
// checks one event's inclusion proof the same way.
//
// What this detects and what it cannot: any change, removal, insertion or
// reordering of integrated events is detected, since it changes a signed
// root. The leaf hashes recorded at integration name the changed event
// unless they were changed too; then the day is reported ALTERED without
// the event. Whoever holds the signing key (it lives in the data
// directory) can rewrite a day and sign it again; that is detected only
// by comparison with checkpoints seen before (audit verify keeps them),
// exports held elsewhere, or the key pinned by the verifier. Events not
// yet integrated (a second or so) and the days after the last checkpoint
// anyone saw are protected only by the database's own triggers, which
// someone with the database file can drop.
package audit
