package identity_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"strongroom"
	"strongroom/internal/identity"
	"strongroom/internal/policy"
)

// rulesOf returns the rules err says a password breaks, or nil.
func rulesOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var pe *identity.PasswordError
	if !errors.As(err, &pe) || !strongroom.Is(err, strongroom.Invalid) {
		t.Fatalf("error %v is not an Invalid refusal of a password", err)
	}
	var rules []string
	for _, v := range pe.Violations {
		rules = append(rules, v.Rule)
		if !strings.Contains(strongroom.PublicMessage(err), v.String()) {
			t.Errorf("message %q does not list %q", strongroom.PublicMessage(err), v)
		}
		if v.Clause != "IAM-2" {
			t.Errorf("rule %s cites %q, want IAM-2", v.Rule, v.Clause)
		}
	}
	return rules
}

func TestPasswordRules(t *testing.T) {
	p := testProfile() // 12 to 128 characters, no composition, not the user name, breached check
	e := newSignInEnv(t, p)
	ctx := adminContext()
	for _, tt := range []struct {
		name        string
		composition []policy.RuleSet
		password    string
		want        []string
	}{
		{"long enough", nil, "twelve chars", nil},
		{"too short", nil, "eleven char", []string{"min_length"}},
		{"characters, not bytes", nil, "ünïcödé pâss", nil},
		{"any script and emoji", nil, "密码是一个很长的句子啊🐎", nil},
		{"64 characters", nil, strings.Repeat("x7", 32), nil},
		{"too long", nil, strings.Repeat("y", 129), []string{"max_length"}},
		{"user name", nil, "my name is Alice!", []string{"not_username", "not_email"}},
		{"e-mail address", nil, "mail alice@example.com", []string{"not_username", "not_email"}},
		{"common", nil, "qwertyuiop123", []string{"breached_check"}},
		{"common, any case", nil, "QwertyUIOP123", []string{"breached_check"}},
		{"composition", []policy.RuleSet{{Require: []policy.Class{policy.Upper, policy.Lower, policy.Digit}}},
			"all lower case words", []string{"composition"}},
		{"composition met", []policy.RuleSet{{Require: []policy.Class{policy.Upper, policy.Lower, policy.Digit}}},
			"Lower and 1 Upper", nil},
		{"every rule at once", []policy.RuleSet{{Require: []policy.Class{policy.Symbol}}},
			"Alice", []string{"min_length", "composition", "not_username", "not_email", "breached_check"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p.Password.Composition = tt.composition
			err := e.svc.SetPassword(ctx, e.alice.ID, tt.password)
			if got := rulesOf(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("SetPassword(%q) broke %v, want %v (error %v)", tt.password, got, tt.want, err)
			}
		})
	}
}

// TestProfilesFromDocuments checks the verdicts the password rules of the
// source documents 000 and 002 imply, on their example profiles.
func TestProfilesFromDocuments(t *testing.T) {
	// The verdicts do not depend on the cost of hashing: hash cheaply.
	envs := map[string]*signInEnv{}
	for _, doc := range []string{"000", "002"} {
		names, err := filepath.Glob("../../policies/" + doc + "-*.yaml")
		if err != nil || len(names) != 1 {
			t.Fatalf("profile of document %s: %v, %v", doc, names, err)
		}
		p, err := policy.Load(names[0])
		if err != nil {
			t.Fatal(err)
		}
		p.Password.Argon2id = cheap
		envs[doc] = newSignInEnv(t, p)
	}
	for _, tt := range []struct {
		password string
		want     map[string][]string // rules broken, by document
	}{
		{"abcdefgh", map[string][]string{"000": {"composition"}, "002": {"composition"}}},
		{"abcdefg1", map[string][]string{"000": nil, "002": {"composition"}}},
		{"Abcdefg1", map[string][]string{"000": nil, "002": nil}},
		{"abc!defg", map[string][]string{"000": nil, "002": {"composition"}}},
		{"12345-67", map[string][]string{"000": nil, "002": {"composition"}}},
		{"Abcdefg", map[string][]string{"000": {"min_length", "composition"}, "002": {"min_length", "composition"}}},
	} {
		for _, doc := range []string{"000", "002"} {
			t.Run(doc+"/"+tt.password, func(t *testing.T) {
				// Neither document asks for the breached-password check,
				// which the profiles inherit from the baseline: the
				// verdicts are the documents' own. "abcdefg1" is a
				// common password: see "common" below.
				e := envs[doc]
				e.p.Password.BreachedCheck = false
				defer func() { e.p.Password.BreachedCheck = true }()
				err := e.svc.SetPassword(adminContext(), e.alice.ID, tt.password)
				if got := rulesOf(t, err); !slices.Equal(got, tt.want[doc]) {
					t.Errorf("document %s: %q broke %v, want %v", doc, tt.password, got, tt.want[doc])
				}
			})
		}
	}
	t.Run("common", func(t *testing.T) {
		// As shipped, both profiles also refuse common passwords,
		// ignoring case.
		for _, e := range envs {
			if !e.p.Password.BreachedCheck {
				t.Fatal("the profile does not check for breached passwords")
			}
		}
		e := envs["000"]
		for _, pw := range []string{"abcdefg1", "Abcdefg1"} {
			err := e.svc.SetPassword(adminContext(), e.alice.ID, pw)
			if got := rulesOf(t, err); !slices.Equal(got, []string{"breached_check"}) {
				t.Errorf("%q broke %v, want [breached_check]", pw, got)
			}
		}
	})
}

// TestPasswordHistory checks the history of profile 000 (4 passwords): the
// fourth most recent password, counting the current one, cannot be reused;
// the fifth can.
func TestPasswordHistory(t *testing.T) {
	p, err := policy.Load("../../policies/000-clavax.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.Password.Argon2id = cheap
	e := newSignInEnv(t, p)
	ctx := strongroom.WithPrincipal(from("192.0.2.1"), strongroom.Principal{User: e.alice.ID, Name: "alice"})
	pw := func(i int) string { return fmt.Sprintf("Kettle-%d-blue", i) }
	current := alicePassword
	for i := 1; i <= 5; i++ {
		if err := e.svc.ChangePassword(ctx, e.alice.ID, current, pw(i)); err != nil {
			t.Fatalf("change to password %d: %v", i, err)
		}
		current = pw(i)
	}
	// pw(5) is the current password, pw(4) the second most recent, ...
	for _, tt := range []struct {
		name     string
		password string
		want     []string
	}{
		{"current", pw(5), []string{"history"}},
		{"second most recent", pw(4), []string{"history"}},
		{"fourth most recent", pw(2), []string{"history"}},
		{"fifth most recent", pw(1), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.lastSeq(t)
			err := e.svc.ChangePassword(ctx, e.alice.ID, current, tt.password)
			if got := rulesOf(t, err); !slices.Equal(got, tt.want) {
				t.Fatalf("reuse of %s broke %v, want %v", tt.name, got, tt.want)
			}
			es := e.eventsOf(t, before, "user.password.change")
			if tt.want == nil {
				current = tt.password
				if len(es) != 1 || es[0].Privileged || es[0].Actor.User != e.alice.ID {
					t.Errorf("change events = %+v; want one by alice, not privileged", es)
				}
			} else if len(es) != 0 {
				t.Errorf("a refused change appended %d events", len(es))
			}
		})
	}
}

// TestChangePasswordWrongCurrent checks that guessing the current password
// counts towards the lockout like a failed sign-in.
func TestChangePasswordWrongCurrent(t *testing.T) {
	e := newSignInEnv(t, lockoutProfile(policy.ModeTemporary))
	ctx := strongroom.WithPrincipal(from("192.0.2.1"), strongroom.Principal{User: e.alice.ID, Name: "alice"})
	for i := 0; i < e.p.Lockout.Threshold; i++ {
		err := e.svc.ChangePassword(ctx, e.alice.ID, "a guess", "a brand new passphrase")
		if !strongroom.Is(err, strongroom.Unauthenticated) || !strings.Contains(err.Error(), "the current password is wrong") {
			t.Fatalf("ChangePassword with a wrong current password = %v", err)
		}
	}
	if ls := e.lockouts(t, e.alice.ID); len(ls) != 1 || !ls[0].Locked(e.clock.Now()) {
		t.Fatalf("lockouts = %+v; want locked after %d wrong current passwords", ls, e.p.Lockout.Threshold)
	}
	for _, next := range []string{"a brand new passphrase", "short"} {
		// Even a new password that breaks a rule gets the answer of a
		// wrong current one: the refusal must not tell it was right.
		err := e.svc.ChangePassword(ctx, e.alice.ID, alicePassword, next)
		if !strongroom.Is(err, strongroom.Unauthenticated) || !strings.Contains(err.Error(), "the current password is wrong") {
			t.Errorf("ChangePassword(right current, %q) while locked = %v; want Unauthenticated", next, err)
		}
	}
	if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err == nil {
		t.Error("sign-in accepted while locked")
	}
}

func TestSetPasswordErrors(t *testing.T) {
	e := newSignInEnv(t, nil)
	ctx := context.Background()
	bob, err := e.svc.CreateUser(ctx, e.tenant.ID, identity.UserSpec{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SuspendUser(ctx, bob.ID, ""); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		user strongroom.UserID
		kind strongroom.Kind
	}{
		{"unknown user", "usr_missing", strongroom.NotFound},
		{"suspended user", bob.ID, strongroom.Other},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.svc.SetPassword(ctx, tt.user, "a fine passphrase"); strongroom.KindOf(err) != tt.kind {
				t.Errorf("SetPassword = %v; want kind %v", err, tt.kind)
			}
		})
	}
}
