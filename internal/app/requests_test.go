package app

import (
	"context"
	"testing"

	"strongroom"
	"strongroom/internal/api"
)

// TestAccessRequestsOverAPI (ACC-4): a member asks for access to another's
// project through the JSON API, cannot approve it herself, the tenant
// administrator sees it pending and approves it, and the project is hers
// to list at once.
func TestAccessRequestsOverAPI(t *testing.T) {
	ta, root := dataApp(t)
	carol := tenantAdmin(t, ta, root)
	dave := userOf(t, ta, root, "acme", "dave", "member")
	erin := userOf(t, ta, root, "acme", "erin", "member")
	ctx := context.Background()
	mustDo(t, dave.Client, "POST", "/api/v1/projects", nil, map[string]string{"name": "ledger"}, nil)

	if _, err := erin.RequestAccess(ctx, api.AccessRequestBody{Project: "ledger", Permission: "read"}); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("a request without a justification: %v, want Invalid", err)
	}
	req, err := erin.RequestAccess(ctx, api.AccessRequestBody{Project: "ledger", Permission: "read", Justification: "month-end close", For: "3d"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Status != "pending" || req.Project != "ledger" || req.Requester != "erin" || req.For != "3d" {
		t.Errorf("request %+v", req)
	}
	if _, err := erin.DecideRequest(ctx, req.ID, true, api.DecisionBody{}); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("erin approving her own request: %v, want Permission", err)
	}
	pending, err := carol.Requests(ctx, true)
	if err != nil || len(pending) != 1 || pending[0].ID != req.ID || pending[0].Justification != "month-end close" {
		t.Fatalf("carol's pending requests: %+v, %v", pending, err)
	}
	done, err := carol.DecideRequest(ctx, req.ID, true, api.DecisionBody{})
	if err != nil || done.Status != "approved" || done.DecidedBy != "carol" || done.Grant == "" {
		t.Fatalf("approval = %+v, %v", done, err)
	}
	var ps []api.ProjectView
	mustDo(t, erin.Client, "GET", "/api/v1/projects", nil, nil, &ps)
	if len(ps) != 1 || ps[0].Name != "ledger" {
		t.Errorf("erin's projects after approval: %+v", ps)
	}
	gs, err := dave.Grants(ctx, "ledger")
	if err != nil || len(gs) != 1 || gs[0].User != "erin" || gs[0].Permission != "read" || gs[0].ExpiresAt == nil {
		t.Errorf("grants on ledger: %+v, %v", gs, err)
	}
}
