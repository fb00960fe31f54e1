package storetest

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
)

// testAuditEvents checks that events are appended in order with increasing
// sequence numbers, that the stored bytes are those Marshal produced, and
// that the filters work.
func testAuditEvents(t *testing.T, s identity.Store) {
	ctx := context.Background()
	full := newEvent("group.member.add", "ten_acme")
	full.Actor = audit.Actor{User: "usr_alice", Name: "alice"}
	full.Class = audit.ClassGroupManagement
	full.Resource, full.SourceAddr, full.UserAgent = "grp_staff", "192.0.2.1:4711", "aws-cli/2"
	full.Outcome, full.Reason, full.Clause = audit.Denied, "outside allowed hours", "IAM-7"
	full.Privileged, full.RequestID = true, "req_1"
	full.Details = map[string]string{"user": "usr_bob", "group_name": "staff"}

	batches := [][]*audit.Event{
		{newEvent("tenant.create", "ten_acme"), full, newEvent("tenant.create", "ten_beta")},
		{newEvent("user.create", "ten_acme"), newEvent("bootstrap.token.set", "")},
	}
	var appended []*audit.Event
	for _, batch := range batches {
		update(t, s, func(tx identity.Tx) error {
			for _, e := range batch {
				if err := tx.AppendEvent(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		appended = append(appended, batch...)
	}
	for i, e := range appended {
		want, err := audit.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Encoded, want) {
			t.Errorf("event %d: AppendEvent set Encoded %s, want %s", i, e.Encoded, want)
		}
		if i > 0 && e.Seq <= appended[i-1].Seq {
			t.Errorf("event %d: Seq %d after %d, want increasing", i, e.Seq, appended[i-1].Seq)
		}
	}

	got := events(t, s)
	if len(got) != len(appended) {
		t.Fatalf("FindEvents returned %d events, want %d", len(got), len(appended))
	}
	for i, e := range got {
		if e.Seq != appended[i].Seq || !bytes.Equal(e.Encoded, appended[i].Encoded) {
			t.Errorf("FindEvents[%d] = seq %d %s; want seq %d %s", i, e.Seq, e.Encoded, appended[i].Seq, appended[i].Encoded)
		}
	}
	if !reflect.DeepEqual(got[1], full) {
		t.Errorf("FindEvents[1] = %+v, want %+v", got[1], full)
	}

	for _, tt := range []struct {
		name string
		f    audit.EventFilter
		want []int // indexes into appended
	}{
		{"tenant", audit.EventFilter{Tenant: "ten_acme"}, []int{0, 1, 3}},
		{"action", audit.EventFilter{Action: "tenant.create"}, []int{0, 2}},
		{"after", audit.EventFilter{AfterSeq: appended[2].Seq}, []int{3, 4}},
		{"limit", audit.EventFilter{Tenant: "ten_acme", Limit: 2}, []int{0, 1}},
	} {
		var es []*audit.Event
		view(t, s, func(tx identity.Tx) (err error) {
			es, err = finder(t, tx).FindEvents(ctx, tt.f)
			return err
		})
		var got, want []uint64
		for _, e := range es {
			got = append(got, e.Seq)
		}
		for _, i := range tt.want {
			want = append(want, appended[i].Seq)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("FindEvents(%s) = %v, want %v", tt.name, got, want)
		}
	}
}

// testAuditEventInvalid checks that an incomplete event is refused, and so
// is the change it should have recorded.
func testAuditEventInvalid(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	bad := newEvent("tenant.create", acme.ID)
	bad.Outcome = ""
	err := s.Update(ctx, func(tx identity.Tx) error {
		if err := tx.CreateTenant(ctx, acme); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, bad)
	})
	wantKind(t, "AppendEvent(no outcome)", err, strongroom.Invalid)
	checkNothingWritten(t, s, acme)
}
