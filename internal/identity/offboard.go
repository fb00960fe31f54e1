package identity

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

// endOffboarded is why the sessions of an offboarded user ended.
const endOffboarded = "user_offboarded"

// Offboarding is what OffboardUser removed.
type Offboarding struct {
	User        *User
	Sessions    int // ended, web and SFTP alike
	AccessKeys  int // revoked
	SSHKeys     int // removed
	Groups      int // memberships removed
	Grants      int // project grants to the user removed
	Requests    int // pending access requests cancelled
	TOTP        int // second factors removed: TOTP seeds,
	Passkeys    int // security keys and passkeys,
	Recovery    int // and recovery codes
	AlreadyDone bool
}

// OffboardUser takes a leaver out in one action (ACC-6): in one
// transaction the user becomes offboarded for good, every session ends
// (web and SFTP), every access key is revoked, every SSH key, group
// membership, project grant, second factor and recovery code is removed,
// every pending access request is cancelled,
// and all of it is
// recorded: one privileged "user.offboard" event listing what went, with
// the events of the removals themselves (ACC-8). Afterwards no sign-in of
// the user can succeed, by any path: each checks the status first. Live
// connections are told at once through OnSessionsEnded.
//
// The user's ID and name stay reserved, and what they stored stays with
// their tenant. Offboarding an offboarded user changes nothing and reports
// AlreadyDone. It returns NotFound if there is no such user, and Invalid
// for an empty reason: the trail must say why.
func (s *Service) OffboardUser(ctx context.Context, id strongroom.UserID, reason string) (*Offboarding, error) {
	const op = "identity.OffboardUser"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, strongroom.E(op, strongroom.Invalid, "say why the user is offboarded, e.g. \"left the company on 2026-11-30\"; the reason goes into the audit trail")
	}
	if len(reason) > 500 {
		return nil, strongroom.E(op, strongroom.Invalid, "the reason is longer than 500 characters; shorten it")
	}
	if p, ok := strongroom.PrincipalFrom(ctx); ok && p.User == id {
		return nil, strongroom.E(op, strongroom.Invalid, "you cannot offboard yourself; another administrator must")
	}
	now := s.now()
	var off *Offboarding
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, id)
		if err != nil {
			return err
		}
		off = &Offboarding{User: u}
		if u.Status == StatusOffboarded {
			off.AlreadyDone = true
			return nil
		}
		status := StatusOffboarded
		if u, err = tx.UpdateUser(ctx, id, UserUpdate{UpdatedAt: now, Status: &status}); err != nil {
			return err
		}
		off.User = u
		if off.Sessions, err = s.endSessions(ctx, tx, u, now, endOffboarded, nil); err != nil {
			return err
		}
		if off.AccessKeys, err = s.revokeAllAccessKeys(ctx, tx, u, now); err != nil {
			return err
		}
		if off.SSHKeys, err = s.removeAllSSHKeys(ctx, tx, u, now); err != nil {
			return err
		}
		groups, err := tx.FindGroups(ctx, GroupFilter{Tenant: u.Tenant, Member: u.ID})
		if err != nil {
			return err
		}
		for _, g := range groups {
			if err := tx.RemoveGroupMember(ctx, g.ID, u.ID); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, s.event(ctx, now, "group.member.remove", audit.ClassGroupManagement, g.Tenant, string(g.ID), memberDetails(g, u))); err != nil {
				return err
			}
		}
		off.Groups = len(groups)
		if off.Grants, err = tx.DeleteGrantsOfUser(ctx, u.ID); err != nil {
			return err
		}
		if off.Requests, err = tx.CancelRequestsOf(ctx, u.ID, now); err != nil {
			return err
		}
		if off.TOTP, err = tx.DeleteTOTPFactors(ctx, u.ID); err != nil {
			return err
		}
		if off.Recovery, err = tx.DeleteRecoveryCodes(ctx, u.ID); err != nil {
			return err
		}
		creds, err := tx.FindWebAuthnCredentials(ctx, u.ID)
		if err != nil {
			return err
		}
		for _, c := range creds {
			if err := tx.DeleteWebAuthnCredential(ctx, u.ID, c.ID); err != nil {
				return err
			}
		}
		off.Passkeys = len(creds)
		e := s.event(ctx, now, "user.offboard", audit.ClassAccountChange, u.Tenant, string(u.ID), map[string]string{
			"name": u.Name, "reason": reason, "sessions_ended": strconv.Itoa(off.Sessions),
			"access_keys_revoked": strconv.Itoa(off.AccessKeys), "ssh_keys_removed": strconv.Itoa(off.SSHKeys),
			"groups_left": strconv.Itoa(off.Groups), "grants_removed": strconv.Itoa(off.Grants),
			"requests_cancelled": strconv.Itoa(off.Requests), "second_factors_removed": strconv.Itoa(off.TOTP + off.Passkeys),
			"recovery_codes_removed": strconv.Itoa(off.Recovery),
		})
		e.Privileged, e.Clause = true, "ACC-6"
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	if !off.AlreadyDone {
		s.sessionsEnded(off.User.ID)
		s.log.InfoContext(ctx, "user offboarded", "user", off.User, "sessions", off.Sessions, "access_keys", off.AccessKeys, "ssh_keys", off.SSHKeys, "groups", off.Groups)
	}
	return off, nil
}

// revokeAllAccessKeys revokes every access key of u not revoked already,
// recording one event, and returns how many it revoked.
func (s *Service) revokeAllAccessKeys(ctx context.Context, tx Tx, u *User, now time.Time) (int, error) {
	keys, err := tx.FindAccessKeys(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	var ids []string
	status := AccessKeyRevoked
	for _, k := range keys {
		if k.Status == AccessKeyRevoked {
			continue
		}
		if _, err := tx.UpdateAccessKey(ctx, k.ID, AccessKeyUpdate{Status: &status, StatusChangedAt: &now}); err != nil {
			return 0, err
		}
		ids = append(ids, string(k.ID))
	}
	if len(ids) == 0 {
		return 0, nil
	}
	details := map[string]string{"user": string(u.ID), "user_name": u.Name, "keys": strings.Join(ids, ","), "count": strconv.Itoa(len(ids))}
	return len(ids), tx.AppendEvent(ctx, s.keyEvent(ctx, now, "access_key.revoke", u, string(u.ID), details))
}

// removeAllSSHKeys deletes every SSH key of u, recording one event, and
// returns how many there were.
func (s *Service) removeAllSSHKeys(ctx context.Context, tx Tx, u *User, now time.Time) (int, error) {
	keys, err := tx.FindSSHKeys(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	fps := make([]string, 0, len(keys))
	for _, k := range keys {
		if err := tx.DeleteSSHKey(ctx, k.Fingerprint); err != nil {
			return 0, err
		}
		fps = append(fps, k.Fingerprint)
	}
	if len(fps) == 0 {
		return 0, nil
	}
	details := map[string]string{"user": string(u.ID), "user_name": u.Name, "keys": strings.Join(fps, ","), "count": fmt.Sprint(len(fps))}
	return len(fps), tx.AppendEvent(ctx, s.keyEvent(ctx, now, "ssh_key.remove", u, string(u.ID), details))
}

// sessionsEnded tells OnSessionsEnded, if set, that sessions of user
// ended in a committed change.
func (s *Service) sessionsEnded(user strongroom.UserID) {
	if s.OnSessionsEnded != nil {
		s.OnSessionsEnded(user)
	}
}
