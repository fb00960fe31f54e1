package audit

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"strongroom"
)

// jsonEncoding is the reference encoding appendEvent must reproduce: the
// wire struct through encoding/json without HTML escaping, as events were
// first encoded. Stored events are hashed into the log as they are, so a
// byte of difference would make the same event encode two ways.
func jsonEncoding(t *testing.T, e *Event) []byte {
	t.Helper()
	w := wire{
		V: version, Time: e.Time.UTC().Format(time.RFC3339Nano), Tenant: string(e.Tenant),
		ActorUser: string(e.Actor.User), ActorName: e.Actor.Name, Action: e.Action, Class: e.Class,
		Resource: e.Resource, SourceAddr: e.SourceAddr, UserAgent: e.UserAgent, Outcome: e.Outcome,
		Reason: e.Reason, Clause: e.Clause, Privileged: e.Privileged, RequestID: string(e.RequestID),
		Details: e.Details,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&w); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func FuzzEncodeMatchesJSON(f *testing.F) {
	f.Add(int64(1748763000123456000), "ten_acme", "usr_alice", "alice", "group.member.add", uint32(3006),
		"grp_staff", "192.0.2.1:4711", "aws-cli/2 <&>", "denied", "outside hours", "IAM-7", true, "req_1", "a", "first", "z", "last")
	f.Add(int64(0), "", "", "system", "tenant.create", uint32(3004), "", "", "", "success", "", "", false, "", "", "", "", "")
	f.Add(int64(-62135596800000000), "\x00\x1f\"\\", "\u2028\u2029", "\xff\xfe", "a.b", uint32(1),
		"\b\f\n\r\t\x7f", "é ü 日本", "<script>&amp;", "failure", "\ud7ff", "\U0001F600", false, "\x80", "k\"", "v\\", "k\x01", "\u2028")
	f.Fuzz(func(t *testing.T, nanos int64, tenant, user, name, action string, class uint32,
		resource, src, agent, outcome, reason, clause string, privileged bool, req, k1, v1, k2, v2 string) {
		e := &Event{
			Time: time.Unix(0, nanos).In(time.FixedZone("X", 3600)), Tenant: strongroom.TenantID(tenant),
			Actor: Actor{User: strongroom.UserID(user), Name: name}, Action: action, Class: Class(class),
			Resource: resource, SourceAddr: src, UserAgent: agent, Outcome: Outcome(outcome), Reason: reason,
			Clause: clause, Privileged: privileged, RequestID: strongroom.RequestID(req),
		}
		if k1 != "" || k2 != "" {
			e.Details = map[string]string{k1: v1, k2: v2}
		}
		got := appendEvent(nil, e)
		if want := jsonEncoding(t, e); !bytes.Equal(got, want) {
			t.Fatalf("appendEvent:\n%q\nencoding/json:\n%q", got, want)
		}
	})
}

// TestEncodeManyDetails covers maps with more keys than appendEvent's
// stack buffer.
func TestEncodeManyDetails(t *testing.T) {
	e := &Event{Time: time.Unix(1, 0), Actor: SystemActor, Action: "a.b", Class: 1, Outcome: Success, Details: map[string]string{}}
	for _, k := range []string{"m", "b", "z", "a", "k", "y", "c", "x", "d", "w", "e"} {
		e.Details[k] = k + "\n"
	}
	if got, want := appendEvent(nil, e), jsonEncoding(t, e); !bytes.Equal(got, want) {
		t.Fatalf("appendEvent:\n%s\nencoding/json:\n%s", got, want)
	}
}

var actionPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

func FuzzValidAction(f *testing.F) {
	for _, s := range []string{"", "a", "a.b", "user.create", "a..b", ".a.b", "a.b.", "A.b", "a.1b", "a1.b_2", "a_.b", "_a.b", "a.b\n", "é.b", "a.b.c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validAction(s), actionPattern.MatchString(s); got != want {
			t.Fatalf("validAction(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
