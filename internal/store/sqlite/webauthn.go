package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

type webauthnCredentialRow struct {
	ID, UserID, Name, RPID, AttestationType, AttestationFormat, Transports, CreatedAt string
	CredentialID, PublicKey, AAGUID                                                   []byte
	Flags                                                                             int64
	SignCount                                                                         int64
	LastUsedAt                                                                        sql.NullString
}

const webauthnCredentialColumns = `id, user_id, name, rp_id, credential_id, public_key, attestation_type,
	attestation_format, aaguid, transports, flags, sign_count, created_at, last_used_at`

func scanWebAuthnCredential(s scanner) (*identity.WebAuthnCredential, error) {
	var r webauthnCredentialRow
	err := s.Scan(&r.ID, &r.UserID, &r.Name, &r.RPID, &r.CredentialID, &r.PublicKey, &r.AttestationType,
		&r.AttestationFormat, &r.AAGUID, &r.Transports, &r.Flags, &r.SignCount, &r.CreatedAt, &r.LastUsedAt)
	if err != nil {
		return nil, err
	}
	c := &identity.WebAuthnCredential{
		ID:                identity.WebAuthnCredentialID(r.ID),
		User:              strongroom.UserID(r.UserID),
		Name:              r.Name,
		RPID:              r.RPID,
		CredentialID:      r.CredentialID,
		PublicKey:         r.PublicKey,
		AttestationType:   r.AttestationType,
		AttestationFormat: r.AttestationFormat,
		AAGUID:            r.AAGUID,
		Flags:             byte(r.Flags),
		SignCount:         uint32(r.SignCount),
	}
	if r.Transports != "" {
		c.Transports = strings.Split(r.Transports, ",")
	}
	if c.CreatedAt, err = parseTime(r.CreatedAt); err != nil {
		return nil, err
	}
	if c.LastUsedAt, err = parseNullTime(r.LastUsedAt); err != nil {
		return nil, err
	}
	return c, nil
}

// CreateWebAuthnCredential implements identity.Tx.
func (tx *Tx) CreateWebAuthnCredential(ctx context.Context, c *identity.WebAuthnCredential) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO webauthn_credentials (`+webauthnCredentialColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.User, c.Name, c.RPID, c.CredentialID, c.PublicKey, c.AttestationType,
		c.AttestationFormat, c.AAGUID, strings.Join(c.Transports, ","), int64(c.Flags), int64(c.SignCount),
		formatTime(c.CreatedAt), nullTime(c.LastUsedAt))
	if err != nil {
		return storeErr("sqlite.CreateWebAuthnCredential", err, what{
			taken:      "this security key is registered already",
			badRef:     fmt.Sprintf("user %s not found", c.User),
			badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindWebAuthnCredentials implements identity.Tx.
func (tx *Tx) FindWebAuthnCredentials(ctx context.Context, user strongroom.UserID) ([]*identity.WebAuthnCredential, error) {
	const op = "sqlite.FindWebAuthnCredentials"
	rows, err := tx.tx.QueryContext(ctx, `SELECT `+webauthnCredentialColumns+` FROM webauthn_credentials
		WHERE user_id = ? ORDER BY created_at, id`, user)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, scanWebAuthnCredential)
}

// UseWebAuthnCredential implements identity.Tx. The comparison with the
// stored count is part of the UPDATE, so that two answers with one count
// cannot both pass.
func (tx *Tx) UseWebAuthnCredential(ctx context.Context, id identity.WebAuthnCredentialID, signCount uint32, flags byte, at time.Time) error {
	const op = "sqlite.UseWebAuthnCredential"
	n := int64(signCount)
	res, err := tx.tx.ExecContext(ctx, `UPDATE webauthn_credentials SET sign_count = ?, flags = ?, last_used_at = ?
		WHERE id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`,
		n, int64(flags), formatTime(at), id, n, n)
	if err != nil {
		return storeErr(op, err, what{})
	}
	affected, err := res.RowsAffected()
	if err != nil {
		return storeErr(op, err, what{})
	}
	if affected == 1 {
		return nil
	}
	var one int
	err = tx.tx.QueryRowContext(ctx, `SELECT 1 FROM webauthn_credentials WHERE id = ?`, id).Scan(&one)
	if err != nil {
		return storeErr(op, err, what{missing: fmt.Sprintf("security key %s not found", id)})
	}
	return strongroom.E(op, strongroom.Conflict, "the signature counter did not increase")
}

// DeleteWebAuthnCredential implements identity.Tx.
func (tx *Tx) DeleteWebAuthnCredential(ctx context.Context, user strongroom.UserID, id identity.WebAuthnCredentialID) error {
	const op = "sqlite.DeleteWebAuthnCredential"
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM webauthn_credentials WHERE id = ? AND user_id = ?`, id, user)
	if err != nil {
		return storeErr(op, err, what{})
	}
	return mustAffect(op, res, fmt.Sprintf("user %s has no security key %s", user, id))
}

// PutWebAuthnChallenge implements identity.Tx.
func (tx *Tx) PutWebAuthnChallenge(ctx context.Context, c *identity.WebAuthnChallenge) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO webauthn_challenges
		(id, purpose, user_id, state, network, verified, rehash, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Purpose, c.User, c.State, c.Network, c.Verified, c.Rehash, formatTime(c.CreatedAt), formatTime(c.ExpiresAt))
	if err != nil {
		return storeErr("sqlite.PutWebAuthnChallenge", err, what{
			taken:      "a ceremony with this challenge exists already",
			badRef:     fmt.Sprintf("user %s not found", c.User),
			badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// TakeWebAuthnChallenge implements identity.Tx: one DELETE ... RETURNING,
// so that only one caller gets the row.
func (tx *Tx) TakeWebAuthnChallenge(ctx context.Context, id []byte) (*identity.WebAuthnChallenge, error) {
	const op = "sqlite.TakeWebAuthnChallenge"
	var purpose, user, created, expires string
	c := &identity.WebAuthnChallenge{}
	err := tx.tx.QueryRowContext(ctx, `DELETE FROM webauthn_challenges WHERE id = ?
		RETURNING id, purpose, user_id, state, network, verified, rehash, created_at, expires_at`, id).
		Scan(&c.ID, &purpose, &user, &c.State, &c.Network, &c.Verified, &c.Rehash, &created, &expires)
	if err != nil {
		return nil, storeErr(op, err, what{missing: "no such ceremony"})
	}
	c.Purpose, c.User = identity.WebAuthnPurpose(purpose), strongroom.UserID(user)
	return convert(op, func() (*identity.WebAuthnChallenge, error) {
		var err error
		if c.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if c.ExpiresAt, err = parseTime(expires); err != nil {
			return nil, err
		}
		return c, nil
	})
}

// DeleteExpiredWebAuthnChallenges implements identity.Tx.
func (tx *Tx) DeleteExpiredWebAuthnChallenges(ctx context.Context, t time.Time) (int, error) {
	return tx.deleteMFARows(ctx, "sqlite.DeleteExpiredWebAuthnChallenges",
		`DELETE FROM webauthn_challenges WHERE expires_at <= ?`, formatTime(t))
}
