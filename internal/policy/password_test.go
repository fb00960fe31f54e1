package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	base := Baseline().Password
	clavax := shipped(t, "000-clavax.yaml").Password
	clario := shipped(t, "002-clario.yaml").Password
	threeOfFour, err := Parse("f.yaml", []byte("password:\n  composition:\n    - min_classes: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		policy    PasswordPolicy
		password  string
		user, sub string // user name and e-mail address
		want      []string
	}{
		// The verdicts the source documents imply.
		{"000 letters only", clavax, "abcdefgh", "", "", []string{"composition"}},
		{"002 letters only", clario, "abcdefgh", "", "", []string{"composition"}},
		{"000 letters and a digit", clavax, "abcdefg1", "", "", nil},
		{"002 no upper case", clario, "abcdefg1", "", "", []string{"composition"}},
		{"000 upper, lower, digit", clavax, "Abcdefg1", "", "", nil},
		{"002 upper, lower, digit", clario, "Abcdefg1", "", "", nil},
		{"002 no lower case", clario, "ABCDEFG1", "", "", []string{"composition"}},
		{"000 letters and punctuation", clavax, "abcdefg!", "", "", nil},
		{"000 digits only", clavax, "12345678", "", "", []string{"composition"}},
		{"000 two non-alphabetic kinds", clavax, "1234567!", "", "", nil},
		{"000 digits and special", clavax, "1234567$", "", "", nil},
		{"000 too short", clavax, "Abc1", "", "", []string{"min_length"}},
		{"002 too short and letters only", clario, "abc", "", "", []string{"min_length", "composition"}},

		// Length counts code points, and any Unicode is accepted.
		{"000 accented letters only", clavax, "äöüßéèàç", "", "", []string{"composition"}},
		{"000 seven characters in 13 bytes", clavax, "äöüäöü1", "", "", []string{"min_length"}},
		{"002 non-ASCII upper and lower", clario, "ÄÖÜäöü12", "", "", nil},
		{"002 title case counts as upper", clario, "ǅabcdef1", "", "", nil},
		{"002 decomposed accent", clario, "Ae\u0301bcde1", "", "", nil},
		{"000 emoji only", clavax, "🔒🔒🔒🔒🔒🔒🔒🔒", "", "", []string{"composition"}},
		{"000 emoji and a digit", clavax, "🔒🔒🔒🔒🔒🔒🔒1", "", "", nil},
		{"baseline twelve emoji", base, strings.Repeat("🔒", 12), "", "", nil},
		{"baseline eleven emoji", base, strings.Repeat("🔒", 11), "", "", []string{"min_length"}},
		{"baseline CJK", base, "密码密码密码密码密码密码", "", "", nil},
		{"baseline passphrase with spaces", base, "correct horse battery staple", "", "", nil},
		{"baseline no composition rule", base, "aaaaaaaaaaaa", "", "", nil},
		{"baseline 128 characters", base, strings.Repeat("ü", 128), "", "", nil},
		{"baseline 129 characters", base, strings.Repeat("ü", 129), "", "", []string{"max_length"}},

		// At least N of the classes.
		{"3 of 4: two kinds", threeOfFour.Password, "Abcdefghijkl", "", "", []string{"composition"}},
		{"3 of 4: three kinds", threeOfFour.Password, "Abcdefghijk1", "", "", nil},

		// The user's own name and address.
		{"contains user name", base, "alice-in-wonderland", "alice", "", []string{"not_username"}},
		{"contains user name, other case", base, "ALICE-in-wonderland", "Alice", "", []string{"not_username"}},
		{"contains e-mail local part", base, "bob.smith-is-great", "bob", "bob.smith@example.com", []string{"not_username", "not_email"}},
		{"contains e-mail address", base, "x bob@example.com x", "", "bob@example.com", []string{"not_email"}},
		{"short user name inside", base, "always-on-time!", "al", "", nil},
		{"short user name whole", PasswordPolicy{MaxLength: 64, NotUsername: true}, "Al", "al", "", []string{"not_username"}},
		{"name check off", PasswordPolicy{MaxLength: 64}, "alice-in-wonderland", "alice", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := tc.policy.Check(tc.password, tc.user, tc.sub)
			var rules []string
			for _, v := range vs {
				rules = append(rules, v.Rule)
				if v.Clause != "IAM-2" {
					t.Errorf("violation %q has clause %q, want IAM-2", v.Rule, v.Clause)
				}
				if v.Message == "" || strings.Contains(v.Message, tc.password) {
					t.Errorf("violation %q message %q is empty or repeats the password", v.Rule, v.Message)
				}
			}
			if !slices.Equal(rules, tc.want) {
				t.Errorf("Check(%q, %q, %q) = %v, want rules %v", tc.password, tc.user, tc.sub, vs, tc.want)
			}
		})
	}
}

func TestCheckMessages(t *testing.T) {
	clario := shipped(t, "002-clario.yaml").Password
	vs := clario.Check("abc", "", "")
	want := []string{
		"the password must be at least 8 characters long; it has 3",
		"the password must contain an upper-case letter, a lower-case letter and a digit",
	}
	if len(vs) != len(want) {
		t.Fatalf("Check(abc) = %v, want %d violations", vs, len(want))
	}
	for i, v := range vs {
		if v.Message != want[i] {
			t.Errorf("violation %d message = %q, want %q", i, v.Message, want[i])
		}
	}
	if got := vs[0].String(); got != want[0]+" (IAM-2)" {
		t.Errorf("String() = %q", got)
	}
}
