package audit

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMarshalOCSF(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 890000000, time.UTC)
	for _, tc := range []struct {
		name string
		e    Event
	}{
		{"sign_in_failure", Event{Seq: 41, Time: at, Tenant: "ten_acme", Actor: Actor{Name: "alice"}, Action: "user.sign_in",
			Class: ClassAuthentication, Resource: "usr_alice", SourceAddr: "192.0.2.7", UserAgent: "curl/8.5", Outcome: Failure,
			Reason: "wrong password", RequestID: "req_1", Details: map[string]string{"network": "192.0.2.0/24"}}},
		{"role_set", Event{Seq: 42, Time: at, Tenant: "ten_acme", Actor: Actor{User: "usr_carol", Name: "carol"}, Action: "user.role.set",
			Class: ClassUserAccessManagement, Resource: "usr_bob", Outcome: Success, Privileged: true, Details: map[string]string{"role": "admin"}}},
		{"api_denied", Event{Seq: 43, Time: at, Tenant: "ten_acme", Actor: Actor{User: "usr_dave", Name: "dave"}, Action: "audit.read",
			Class: ClassAPIActivity, Resource: `audit trail "other"`, SourceAddr: "2001:db8::1", Outcome: Denied,
			Reason: "audit trail not found", Clause: "AUD-8", RequestID: "req_2"}},
		{"datastore_expiry", Event{Seq: 44, Time: at, Actor: SystemActor, Action: "audit.day.expire", Class: ClassDatastoreActivity,
			Resource: "ten_acme/2024-12-01", Outcome: Success, Details: map[string]string{"size": "12"}}},
		{"account_lock", Event{Seq: 45, Time: at, Tenant: "ten_acme", Actor: SystemActor, Action: "user.lock", Class: ClassAccountChange,
			Resource: "usr_alice", Outcome: Success}},
		{"group_member_add", Event{Seq: 46, Time: at, Tenant: "ten_acme", Actor: Actor{User: "usr_carol", Name: "carol"},
			Action: "group.member.add", Class: ClassGroupManagement, Resource: "grp_ops", Outcome: Success}},
		{"tenant_create", Event{Seq: 47, Time: at, Actor: Actor{User: "usr_root", Name: "root"}, Action: "tenant.create",
			Class: ClassEntityManagement, Resource: "ten_acme", Outcome: Success, Privileged: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MarshalOCSF(&tc.e, "v1.2.3")
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) || bytes.ContainsAny(got, "\n") {
				t.Fatalf("MarshalOCSF = %s, not one line of JSON", got)
			}
			var indented bytes.Buffer
			json.Indent(&indented, got, "", "  ")
			indented.WriteByte('\n')
			path := filepath.Join("testdata", "ocsf", tc.name+".json")
			if *update {
				if err := os.WriteFile(path, indented.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(indented.Bytes(), want) {
				t.Errorf("MarshalOCSF(%s) =\n%s\nwant (%s)\n%s", tc.name, indented.Bytes(), path, want)
			}
		})
	}
}
