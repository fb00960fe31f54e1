package app

import (
	"context"
	"testing"

	"strongroom"
	"strongroom/internal/api"
)

// TestAccessReviewOverAPI (ACC-5): a tenant administrator starts a review
// through the JSON API, finds a member's grant in it, revokes it, and the
// grant is gone at once; a member cannot see reviews.
func TestAccessReviewOverAPI(t *testing.T) {
	ta, root := dataApp(t)
	carol := tenantAdmin(t, ta, root)
	dave := userOf(t, ta, root, "acme", "dave", "member")
	userOf(t, ta, root, "acme", "erin", "member")
	ctx := context.Background()
	mustDo(t, dave.Client, "POST", "/api/v1/projects", nil, map[string]string{"name": "ledger"}, nil)
	if _, err := dave.Share(ctx, "ledger", api.GrantRequest{User: "erin", Permission: "write"}); err != nil {
		t.Fatal(err)
	}
	if err := dave.Do(ctx, "GET", "/api/v1/reviews", nil, nil, nil); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a member listing reviews: %v, want Permission", err)
	}
	var v api.ReviewView
	mustDo(t, carol.Client, "POST", "/api/v1/reviews", nil, map[string]string{"for": "7d"}, &v)
	var item string
	for _, it := range v.Items {
		if it.Kind == "grant" && it.User == "erin" && it.Project == "ledger" && it.Permission == "write" {
			item = it.ID
		}
	}
	if item == "" {
		t.Fatalf("erin's grant is not in the review: %+v", v.Items)
	}
	mustDo(t, carol.Client, "POST", "/api/v1/reviews/"+v.ID+"/items/"+item, nil, map[string]string{"decision": "revoke"}, &v)
	if gs, err := dave.Grants(ctx, "ledger"); err != nil || len(gs) != 0 {
		t.Errorf("grants on ledger after the revocation: %+v, %v", gs, err)
	}
	var list []api.ReviewView
	mustDo(t, carol.Client, "GET", "/api/v1/reviews", nil, nil, &list)
	if len(list) != 1 || list[0].ID != v.ID || list[0].CreatedBy != "carol" {
		t.Errorf("reviews: %+v", list)
	}
}
