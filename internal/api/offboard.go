package api

import (
	"net/http"
)

// OffboardRequest is the body of POST /api/v1/users/{user}/offboard.
type OffboardRequest struct {
	Reason string `json:"reason"` // required; recorded in the audit trail
}

// OffboardView says what offboarding a user removed (ACC-6).
type OffboardView struct {
	User          UserView `json:"user"`
	AlreadyDone   bool     `json:"already_offboarded,omitempty"`
	SessionsEnded int      `json:"sessions_ended"`
	AccessKeys    int      `json:"access_keys_revoked"`
	SSHKeys       int      `json:"ssh_keys_removed"`
	Groups        int      `json:"groups_left"`
	Grants        int      `json:"grants_removed"`
	SecondFactors int      `json:"second_factors_removed"`
	RecoveryCodes int      `json:"recovery_codes_removed"`
}

// offboardUser takes a leaver out in one action: sessions, keys, groups
// and second factors; see identity.Service.OffboardUser.
func (s *Server) offboardUser(w http.ResponseWriter, r *http.Request) error {
	var req OffboardRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := s.ids.FindUserByName(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	off, err := s.ids.OffboardUser(r.Context(), u.ID, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, OffboardView{
		User: s.userView(r, off.User), AlreadyDone: off.AlreadyDone, SessionsEnded: off.Sessions,
		AccessKeys: off.AccessKeys, SSHKeys: off.SSHKeys, Groups: off.Groups, Grants: off.Grants,
		SecondFactors: off.TOTP + off.Passkeys, RecoveryCodes: off.Recovery,
	})
	return nil
}
