package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"strongroom"
	"strongroom/internal/identity"
)

// call sends a JSON request with token's session (none if empty) and
// returns the status and body.
func (ta *testApp) call(t *testing.T, token, method, path string, in any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(in)
	req, err := http.NewRequest(method, "https://"+ta.Addr("https")+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ta.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// breakTrail makes every append to the audit trail fail, as a failing
// disk would, from outside the server: a trigger on the events table of
// the server's own database. It returns the function that repairs it.
func breakTrail(t *testing.T, ta *testApp) (repair func()) {
	t.Helper()
	db, err := sql.Open("sqlite", layout{ta.cfg.Data}.database()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TRIGGER audit_fault BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected audit write failure'); END`)
	return func() { exec(`DROP TRIGGER audit_fault`) }
}

// userState is what the test compares before and after a refused request.
type userState struct {
	exists   bool
	hash     string
	sessions int
	failures int
}

func (ta *testApp) userState(t *testing.T, name string) userState {
	t.Helper()
	ctx := context.Background()
	u, err := ta.identity.FindUserByName(ctx, name)
	if strongroom.Is(err, strongroom.NotFound) {
		return userState{}
	}
	if err != nil {
		t.Fatal(err)
	}
	ss, err := ta.identity.FindSessions(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return userState{exists: true, hash: u.PasswordHash, sessions: len(ss), failures: u.FailedSignIns}
}

// TestFailClosed: while the audit trail cannot be written, every request
// that would change something answers 503 and changes nothing (AUD-2);
// once it can, the same requests succeed.
func TestFailClosed(t *testing.T) {
	ta, root, _ := bootstrapped(t)
	token := root.res.Token
	const pw = "copper-meadow-4417-finch"
	if code, body := ta.call(t, token, "POST", "/api/v1/users", map[string]string{"name": "dora", "password": pw}); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("create dora: %d %s", code, body)
	}
	repair := breakTrail(t, ta)

	tests := []struct {
		name, method, path, token string
		body                      any
		user                      string // whose state must not change
	}{
		{"create user", "POST", "/api/v1/users", token, map[string]string{"name": "erin", "password": pw}, "erin"},
		{"reset password", "POST", "/api/v1/users/dora/reset-password", token, map[string]string{"password": "another-" + pw}, "dora"},
		{"sign in", "POST", "/api/v1/sessions", "", map[string]any{"user": "dora", "password": pw, "notice_accepted": true}, "dora"},
		{"failed sign-in", "POST", "/api/v1/sessions", "", map[string]any{"user": "dora", "password": "wrong", "notice_accepted": true}, "dora"},
		{"suspend", "POST", "/api/v1/users/dora/suspend", token, map[string]string{}, "dora"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ta.userState(t, tt.user)
			code, body := ta.call(t, tt.token, tt.method, tt.path, tt.body)
			if code != http.StatusServiceUnavailable || !strings.Contains(body, "the audit trail cannot be written, so nothing was changed") {
				t.Errorf("%s %s = %d %s; want 503 saying the trail cannot be written", tt.method, tt.path, code, body)
			}
			if after := ta.userState(t, tt.user); after != before {
				t.Errorf("state of %s changed by a refused request: %+v, was %+v", tt.user, after, before)
			}
		})
	}

	// Reads record no change and keep working.
	if code, body := ta.call(t, token, "GET", "/api/v1/users/dora", nil); code != http.StatusOK {
		t.Errorf("GET user while the trail is broken = %d %s, want 200", code, body)
	}

	repair()
	if code, body := ta.call(t, token, "POST", "/api/v1/users", map[string]string{"name": "erin", "password": pw}); code >= 300 {
		t.Fatalf("create erin after repair: %d %s", code, body)
	}
	if _, err := ta.signIn(t, "dora", pw, ""); err != nil {
		t.Fatalf("sign in after repair: %v", err)
	}
	if u, err := ta.identity.FindUserByName(context.Background(), "dora"); err != nil || u.Status != identity.StatusActive {
		t.Fatalf("dora after repair: %v, %v; want active", u, err)
	}
}
