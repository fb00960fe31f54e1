package sqlite_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

func TestQueryEvents(t *testing.T) {
	tr := newTrail(t)
	ctx := context.Background()
	rec := tr.db.AuditQuery()
	put := func(tenant strongroom.TenantID, at time.Time, actor, action, resource string, outcome audit.Outcome) uint64 {
		e := &audit.Event{Time: at, Tenant: tenant, Actor: audit.Actor{User: strongroom.UserID("usr_" + actor), Name: actor},
			Action: action, Class: audit.ClassAPIActivity, Resource: resource, Outcome: outcome}
		if err := rec.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e.Seq
	}
	t0 := start
	a1 := put("ten_a", t0, "alice", "user.create", "usr_bob", audit.Success)
	a2 := put("ten_a", t0.Add(time.Hour), "carol", "user.sign_in", "usr_carol", audit.Failure)
	a3 := put("ten_a", t0.Add(2*time.Hour), "alice", "group.create", "grp_ops", audit.Success)
	a4 := put("ten_a", t0.Add(3*time.Hour), "alice", "user.role.set", "usr_bob", audit.Denied)
	b1 := put("ten_b", t0, "alice", "user.create", "usr_bob", audit.Success)
	p1 := put("", t0, "root", "tenant.create", "ten_a", audit.Success)

	for _, tc := range []struct {
		name string
		q    audit.Query
		want []uint64
	}{
		{"tenant", audit.Query{Tenant: "ten_a"}, []uint64{a1, a2, a3, a4}},
		{"other tenant", audit.Query{Tenant: "ten_b"}, []uint64{b1}},
		{"platform", audit.Query{}, []uint64{p1}},
		{"action prefix", audit.Query{Tenant: "ten_a", Action: "user."}, []uint64{a1, a2, a4}},
		{"action prefix star", audit.Query{Tenant: "ten_a", Action: "user.*"}, []uint64{a1, a2, a4}},
		{"exact action", audit.Query{Tenant: "ten_a", Action: "user.create"}, []uint64{a1}},
		{"actor by name", audit.Query{Tenant: "ten_a", Actor: "carol"}, []uint64{a2}},
		{"actor by ID", audit.Query{Tenant: "ten_a", Actor: "usr_alice"}, []uint64{a1, a3, a4}},
		{"resource", audit.Query{Tenant: "ten_a", Resource: "usr_bob"}, []uint64{a1, a4}},
		{"outcome", audit.Query{Tenant: "ten_a", Outcome: audit.Denied}, []uint64{a4}},
		{"time range", audit.Query{Tenant: "ten_a", From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}, []uint64{a2, a3}},
		{"cursor and limit", audit.Query{Tenant: "ten_a", AfterSeq: a1, Limit: 2}, []uint64{a2, a3}},
		{"all together", audit.Query{Tenant: "ten_a", Actor: "alice", Action: "user.", Resource: "usr_bob", Outcome: audit.Success}, []uint64{a1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			if err := q.Validate(); err != nil {
				t.Fatal(err)
			}
			es, err := rec.QueryEvents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, e := range es {
				got = append(got, e.Seq)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("QueryEvents(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestIntegratedEventsInOrder(t *testing.T) {
	tr := newTrail(t)
	tr.add(t, "ten_a", 3)
	tr.add(t, "ten_b", 2)
	tr.add(t, "ten_a", 2)
	tr.integrate(t)
	tr.add(t, "ten_a", 1) // not integrated: not streamed yet
	ds, err := tr.db.AuditStream().IntegratedEvents(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 7 {
		t.Fatalf("IntegratedEvents = %d events, want 7", len(ds))
	}
	next := map[audit.LogID]uint64{}
	for i, d := range ds {
		if d.Seq != uint64(i+1) || d.Index != next[d.Log] || d.Record == nil {
			t.Errorf("delivery %d = seq %d, %s index %d; want seq %d index %d", i, d.Seq, d.Log, d.Index, i+1, next[d.Log])
		}
		next[d.Log]++
	}
	if ds, _ := tr.db.AuditStream().IntegratedEvents(context.Background(), 5, 1); len(ds) != 1 || ds[0].Seq != 6 {
		t.Errorf("IntegratedEvents after 5, limit 1 = %+v", ds)
	}
}
