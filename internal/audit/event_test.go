package audit_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

func fullEvent() *audit.Event {
	return &audit.Event{
		Time:       time.Date(2025, 6, 1, 9, 30, 0, 123456000, time.FixedZone("CEST", 2*3600)),
		Tenant:     "ten_acme",
		Actor:      audit.Actor{User: "usr_alice", Name: "alice"},
		Action:     "group.member.add",
		Class:      audit.ClassGroupManagement,
		Resource:   "grp_staff",
		SourceAddr: "192.0.2.1:4711",
		UserAgent:  "aws-cli/2 <&>",
		Outcome:    audit.Denied,
		Reason:     "outside allowed hours",
		Clause:     "IAM-7",
		Privileged: true,
		RequestID:  "req_1",
		Details:    map[string]string{"z": "last", "a": "first"},
	}
}

// The encoding is hashed into the tamper-evident log, so it must never
// change for a given event.
const fullEncoded = `{"v":1,"time":"2025-06-01T07:30:00.123456Z","tenant":"ten_acme","actor_user":"usr_alice",` +
	`"actor_name":"alice","action":"group.member.add","class_uid":3006,"resource":"grp_staff",` +
	`"src_addr":"192.0.2.1:4711","user_agent":"aws-cli/2 <&>","outcome":"denied",` +
	`"reason":"outside allowed hours","clause":"IAM-7","privileged":true,"request_id":"req_1",` +
	`"details":{"a":"first","z":"last"}}`

func TestMarshal(t *testing.T) {
	for _, tt := range []struct {
		name string
		e    *audit.Event
		want string
	}{
		{"full", fullEvent(), fullEncoded},
		{"minimal", &audit.Event{
			Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Actor: audit.SystemActor,
			Action: "tenant.create", Class: audit.ClassEntityManagement, Outcome: audit.Success,
			Seq: 7, Encoded: []byte("ignored"), Details: map[string]string{},
		}, `{"v":1,"time":"2025-01-01T00:00:00Z","actor_name":"system","action":"tenant.create","class_uid":3004,"outcome":"success"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := audit.Marshal(tt.e)
			if err != nil || string(got) != tt.want {
				t.Fatalf("Marshal = %s, %v\nwant %s", got, err, tt.want)
			}
			again, _ := audit.Marshal(tt.e)
			if !bytes.Equal(got, again) {
				t.Errorf("Marshal twice gave %s and %s", got, again)
			}
			e, err := audit.Unmarshal(got)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !bytes.Equal(e.Encoded, got) {
				t.Errorf("Unmarshal kept Encoded %s, want %s", e.Encoded, got)
			}
			if re, _ := audit.Marshal(e); !bytes.Equal(re, got) {
				t.Errorf("Marshal(Unmarshal(b)) = %s, want %s", re, got)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*audit.Event)
		want   string
	}{
		{"no time", func(e *audit.Event) { e.Time = time.Time{} }, "no time"},
		{"no actor", func(e *audit.Event) { e.Actor = audit.Actor{} }, "no actor name"},
		{"no action", func(e *audit.Event) { e.Action = "" }, "not a dotted code"},
		{"undotted action", func(e *audit.Event) { e.Action = "create" }, "not a dotted code"},
		{"upper-case action", func(e *audit.Event) { e.Action = "User.Create" }, "not a dotted code"},
		{"no class", func(e *audit.Event) { e.Class = 0 }, "no class"},
		{"no outcome", func(e *audit.Event) { e.Outcome = "" }, "unknown outcome"},
		{"bad outcome", func(e *audit.Event) { e.Outcome = "ok" }, "unknown outcome"},
		{"empty detail key", func(e *audit.Event) { e.Details[""] = "x" }, "empty key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := fullEvent()
			tt.change(e)
			_, err := audit.Marshal(e)
			if !strongroom.Is(err, strongroom.Invalid) || !strings.Contains(strongroom.PublicMessage(err), tt.want) {
				t.Errorf("Marshal = %v; want Invalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestUnmarshalRejects(t *testing.T) {
	for _, tt := range []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"not JSON", "event"},
		{"unknown field", strings.Replace(fullEncoded, `"v":1,`, `"v":1,"extra":1,`, 1)},
		{"other version", strings.Replace(fullEncoded, `"v":1,`, `"v":2,`, 1)},
		{"trailing data", fullEncoded + "{}"},
		{"bad time", strings.Replace(fullEncoded, "2025-06-01T07:30:00.123456Z", "yesterday", 1)},
		{"incomplete", `{"v":1,"time":"2025-06-01T07:30:00Z"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if e, err := audit.Unmarshal([]byte(tt.data)); !strongroom.Is(err, strongroom.Internal) {
				t.Errorf("Unmarshal(%q) = %+v, %v; want an Internal error", tt.data, e, err)
			}
		})
	}
}

// FuzzUnmarshal checks that any event Unmarshal accepts encodes again and
// decodes to the same event: exported trails are read from untrusted files.
func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(fullEncoded))
	f.Add([]byte(`{"v":1,"time":"2025-01-01T00:00:00Z","actor_name":"system","action":"a.b","class_uid":1,"outcome":"success"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := audit.Unmarshal(data)
		if err != nil {
			return
		}
		b, err := audit.Marshal(e)
		if err != nil {
			t.Fatalf("Marshal of an accepted event: %v", err)
		}
		e2, err := audit.Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(e)): %v", err)
		}
		e.Encoded, e2.Encoded = nil, nil
		if !e.Time.Equal(e2.Time) {
			t.Fatalf("time changed: %v, %v", e.Time, e2.Time)
		}
		e.Time, e2.Time = time.Time{}, time.Time{}
		if len(e.Details) == 0 {
			e.Details = nil
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("round trip changed the event: %+v, %+v", e, e2)
		}
	})
}
