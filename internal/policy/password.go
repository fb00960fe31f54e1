package policy

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"strongroom/internal/yamlconf"
)

// PasswordPolicy is what a password must be, how long it lives and how it is
// stored (IAM-2, IAM-3).
type PasswordPolicy struct {
	// MinLength and MaxLength count Unicode code points, not bytes, as NIST
	// SP 800-63B asks: "ü" and "密" are one character each.
	MinLength int `yaml:"min_length"`
	MaxLength int `yaml:"max_length"`

	// Composition lists alternative rule sets; a password that satisfies
	// any one of them is accepted. An empty list imposes no composition
	// rule, which is what NIST SP 800-63B recommends.
	Composition []RuleSet `yaml:"composition"`

	// History is how many previous passwords a user may not reuse.
	History int `yaml:"history"`

	// MaxAge forces a change after this long; 0 never forces one.
	// ReminderBefore warns the user this long before the forced change.
	MaxAge         yamlconf.Duration `yaml:"max_age"`
	ReminderBefore yamlconf.Duration `yaml:"reminder_before"`

	// NotUsername refuses a password that contains the user's name or
	// e-mail address.
	NotUsername bool `yaml:"not_username"`

	// BreachedCheck refuses passwords found in lists of breached or common
	// passwords. The lists themselves are checked by the sign-in code.
	BreachedCheck bool `yaml:"breached_check"`

	// Argon2id sets the cost of the one-way hash passwords are stored as.
	Argon2id Argon2Params `yaml:"argon2id"`
}

// Argon2Params are the argon2id (RFC 9106) cost parameters, in the units
// golang.org/x/crypto/argon2.IDKey takes.
type Argon2Params struct {
	MemoryKiB   uint32 `yaml:"memory_kib"`
	Iterations  uint32 `yaml:"iterations"`
	Parallelism uint8  `yaml:"parallelism"`
}

// owaspArgon2 lists the argon2id configurations the OWASP Password Storage
// Cheat Sheet gives as equally strong minimums. Parameters at or above any
// one of them are accepted.
var owaspArgon2 = []Argon2Params{
	{MemoryKiB: 47104, Iterations: 1},
	{MemoryKiB: 19456, Iterations: 2},
	{MemoryKiB: 12288, Iterations: 3},
	{MemoryKiB: 9216, Iterations: 4},
	{MemoryKiB: 7168, Iterations: 5},
}

// RuleSet is one way of satisfying the composition rule: the password
// contains at least one character of every class in Require, and characters
// of at least MinClasses different classes among Of.
//
// "One upper-case letter, one lower-case letter and one digit" is
// {Require: [upper, lower, digit]}; "three of the four kinds" is
// {MinClasses: 3}; "a mix of at least two kinds of non-alphabetic
// characters" is {MinClasses: 2, Of: [digit, punctuation, special]}.
type RuleSet struct {
	Require    []Class `yaml:"require"`
	MinClasses int     `yaml:"min_classes"`
	// Of lists the classes MinClasses counts; empty means upper, lower,
	// digit and symbol. Its classes must not overlap, or one character
	// would count twice.
	Of []Class `yaml:"of"`
}

// Class is a kind of character a composition rule can ask for.
type Class string

const (
	Upper         Class = "upper"          // an upper- or title-case letter
	Lower         Class = "lower"          // a lower-case letter
	Alphabetic    Class = "alphabetic"     // any letter, of any script, with or without case
	Digit         Class = "digit"          // a digit or other numeral (Unicode category N)
	Punctuation   Class = "punctuation"    // a punctuation mark (Unicode category P): ! " # % & * , . / : ; ? @ _
	Special       Class = "special"        // neither letter, numeral nor punctuation: $ + < = > ^ ` | ~, spaces, emoji
	Symbol        Class = "symbol"         // neither letter nor numeral: punctuation and special together
	NonAlphabetic Class = "non_alphabetic" // anything but a letter: numerals, punctuation, special
)

// Character categories. Every code point falls in exactly one; a class is a
// set of categories.
const (
	catUpper = 1 << iota
	catLower
	catOtherLetter // letters without case, such as CJK ideographs
	catNumber
	catPunct
	catSpecial
)

var classes = map[Class]struct {
	cats int
	noun string // what one character of the class is called in messages
}{
	Upper:         {catUpper, "an upper-case letter"},
	Lower:         {catLower, "a lower-case letter"},
	Alphabetic:    {catUpper | catLower | catOtherLetter, "a letter"},
	Digit:         {catNumber, "a digit"},
	Punctuation:   {catPunct, "a punctuation mark"},
	Special:       {catSpecial, "a special character"},
	Symbol:        {catPunct | catSpecial, "a symbol"},
	NonAlphabetic: {catNumber | catPunct | catSpecial, "a character that is not a letter"},
}

// classNames lists the classes in the order messages and errors show them.
var classNames = []Class{Upper, Lower, Alphabetic, Digit, Punctuation, Special, Symbol, NonAlphabetic}

// defaultOf is what MinClasses counts when Of is empty.
var defaultOf = []Class{Upper, Lower, Digit, Symbol}

func (r RuleSet) of() []Class {
	if len(r.Of) == 0 {
		return defaultOf
	}
	return r.Of
}

// category returns the category of r; prev is the category of the
// character before it, which a combining mark (the accent of a decomposed
// "é") belongs to.
func category(r rune, prev int) int {
	switch {
	case unicode.IsUpper(r) || unicode.IsTitle(r):
		return catUpper
	case unicode.IsLower(r):
		return catLower
	case unicode.IsLetter(r):
		return catOtherLetter
	case unicode.IsMark(r) && prev != 0:
		return prev
	case unicode.IsNumber(r):
		return catNumber
	case unicode.IsPunct(r):
		return catPunct
	}
	return catSpecial
}

// categories returns the set of categories present in s.
func categories(s string) int {
	var set, prev int
	for _, r := range s {
		prev = category(r, prev)
		set |= prev
	}
	return set
}

func (r RuleSet) satisfiedBy(set int) bool {
	for _, c := range r.Require {
		if set&classes[c].cats == 0 {
			return false
		}
	}
	n := 0
	for _, c := range r.of() {
		if set&classes[c].cats != 0 {
			n++
		}
	}
	return n >= r.MinClasses
}

// describe says in words what r asks for: "an upper-case letter, a
// lower-case letter and a digit".
func (r RuleSet) describe() string {
	var parts []string
	if len(r.Require) > 0 {
		nouns := make([]string, len(r.Require))
		for i, c := range r.Require {
			nouns[i] = classes[c].noun
		}
		parts = append(parts, listAnd(nouns))
	}
	if r.MinClasses > 0 {
		names := make([]string, len(r.of()))
		for i, c := range r.of() {
			names[i] = string(c)
		}
		parts = append(parts, fmt.Sprintf("characters of at least %d of these kinds: %s", r.MinClasses, strings.Join(names, ", ")))
	}
	return strings.Join(parts, ", and ")
}

func listAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// Violation is one rule of the profile that a password breaks.
type Violation struct {
	Rule    string // "min_length", "max_length", "composition", "not_username" or "not_email"
	Message string // safe to show the user: it never repeats the password
	Clause  string // the requirement the rule serves, e.g. "IAM-2"
}

func (v Violation) String() string { return fmt.Sprintf("%s (%s)", v.Message, v.Clause) }

// Check returns every length, composition and name rule of p that password
// breaks, or nil. Reuse of earlier passwords and breached-password lists are
// checked by the caller, which holds the history and the lists.
//
// Lengths count Unicode code points, and every character is accepted:
// spaces, accents, any script, emoji. A byte that is not valid UTF-8 counts
// as one character.
func (p PasswordPolicy) Check(password, username, email string) []Violation {
	var vs []Violation
	add := func(rule, format string, args ...any) {
		vs = append(vs, Violation{Rule: rule, Message: fmt.Sprintf(format, args...), Clause: clause("password." + rule)})
	}
	n := utf8.RuneCountInString(password)
	if n < p.MinLength {
		add("min_length", "the password must be at least %d characters long; it has %d", p.MinLength, n)
	}
	if p.MaxLength > 0 && n > p.MaxLength {
		add("max_length", "the password must be at most %d characters long; it has %d", p.MaxLength, n)
	}
	if len(p.Composition) > 0 {
		set := categories(password)
		ok := false
		for _, r := range p.Composition {
			if r.satisfiedBy(set) {
				ok = true
				break
			}
		}
		if !ok {
			add("composition", "the password must contain %s", p.describeComposition())
		}
	}
	if p.NotUsername {
		if containsName(password, username) {
			vs = append(vs, Violation{Rule: "not_username", Message: "the password must not contain the user name", Clause: clause("password.not_username")})
		}
		local, _, _ := cutLast(email, "@")
		if containsName(password, email) || containsName(password, local) {
			vs = append(vs, Violation{Rule: "not_email", Message: "the password must not contain the e-mail address", Clause: clause("password.not_username")})
		}
	}
	return vs
}

func (p PasswordPolicy) describeComposition() string {
	if len(p.Composition) == 1 {
		return p.Composition[0].describe()
	}
	alts := make([]string, len(p.Composition))
	for i, r := range p.Composition {
		alts[i] = r.describe()
	}
	return "either " + strings.Join(alts, "; or ")
}

// containsName reports whether password contains name, ignoring case. Names
// shorter than three characters only match the whole password, so a user
// called "al" may still choose "always-on-time".
func containsName(password, name string) bool {
	name = strings.TrimSpace(name)
	if name == "" {
		return false
	}
	pw, nm := strings.ToLower(password), strings.ToLower(name)
	if utf8.RuneCountInString(nm) < 3 {
		return pw == nm
	}
	return strings.Contains(pw, nm)
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// validate adds the problems of p to c.
func (p *PasswordPolicy) validate(c *checker) {
	const maxLengthCap = 4096 // bounds the work one sign-in can cause
	switch {
	case p.MinLength < 8:
		c.errorf("password.min_length", "%d is below 8, the floor of NIST SP 800-63B", p.MinLength)
	case p.MinLength > p.MaxLength && p.MaxLength >= 64:
		c.errorf(c.at("password.min_length", "password.max_length"), "min_length %d is above max_length %d", p.MinLength, p.MaxLength)
	}
	switch {
	case p.MaxLength < 64:
		c.errorf("password.max_length", "%d is below 64; NIST SP 800-63B asks that passwords of at least 64 characters be accepted", p.MaxLength)
	case p.MaxLength > maxLengthCap:
		c.errorf("password.max_length", "%d is above %d, the longest password Strongroom hashes", p.MaxLength, maxLengthCap)
	}
	for i, r := range p.Composition {
		r.validate(c, fmt.Sprintf("password.composition[%d]", i))
	}
	if p.History < 0 || p.History > 64 {
		c.errorf("password.history", "%d is out of range: want 0 (no history) to 64 previous passwords", p.History)
	}
	if p.MaxAge != 0 && p.MaxAge.Std() < day {
		c.errorf("password.max_age", "%s is shorter than a day; write 0s for no maximum age", p.MaxAge)
	}
	switch {
	case p.ReminderBefore != 0 && p.MaxAge == 0:
		c.errorf(c.at("password.reminder_before", "password.max_age"), "a reminder of %s before a forced change, but max_age is 0s so no change is ever forced", p.ReminderBefore)
	case p.MaxAge != 0 && p.ReminderBefore >= p.MaxAge:
		c.errorf(c.at("password.reminder_before", "password.max_age"), "reminder_before %s is not shorter than max_age %s", p.ReminderBefore, p.MaxAge)
	}
	p.Argon2id.validate(c)
}

func (a Argon2Params) validate(c *checker) {
	floor := false
	for _, o := range owaspArgon2 {
		if a.MemoryKiB >= o.MemoryKiB && a.Iterations >= o.Iterations {
			floor = true
			break
		}
	}
	if !floor {
		c.errorf(c.at("password.argon2id.memory_kib", "password.argon2id.iterations", "password.argon2id"),
			"memory_kib %d with iterations %d is below the OWASP minimum for argon2id (19456 KiB with 2 iterations, or an equivalent: 47104/1, 12288/3, 9216/4, 7168/5)",
			a.MemoryKiB, a.Iterations)
	}
	if a.MemoryKiB > 4<<20 {
		c.errorf("password.argon2id.memory_kib", "%d KiB is above 4 GiB; each concurrent sign-in needs this much memory", a.MemoryKiB)
	}
	if a.Iterations > 64 {
		c.errorf("password.argon2id.iterations", "%d is above 64; a sign-in would take too long", a.Iterations)
	}
	if a.Parallelism < 1 {
		c.errorf("password.argon2id.parallelism", "must be at least 1")
	}
}

func (r RuleSet) validate(c *checker, path string) {
	known := func(field string, list []Class) bool {
		ok := true
		seen := map[Class]bool{}
		for i, cl := range list {
			p := fmt.Sprintf("%s.%s[%d]", path, field, i)
			if _, found := classes[cl]; !found {
				c.errorf(p, "unknown character class %q; want one of %s", cl, joinClasses(classNames))
				ok = false
			} else if seen[cl] {
				c.errorf(p, "class %q listed twice", cl)
				ok = false
			}
			seen[cl] = true
		}
		return ok
	}
	known("require", r.Require)
	if !known("of", r.Of) {
		return
	}
	of := r.of()
	for i := range of {
		for j := i + 1; j < len(of); j++ {
			if classes[of[i]].cats&classes[of[j]].cats != 0 {
				c.errorf(path+".of", "classes %q and %q overlap, so one character would count as two kinds", of[i], of[j])
			}
		}
	}
	switch {
	case r.MinClasses < 0 || r.MinClasses > len(of):
		c.errorf(path+".min_classes", "%d is out of range: want 0 to %d, the number of classes in of", r.MinClasses, len(of))
	case r.MinClasses == 0 && len(r.Of) > 0:
		c.errorf(path+".of", "of is set but min_classes is 0, so it has no effect")
	case r.MinClasses == 0 && len(r.Require) == 0:
		c.errorf(path, "an empty rule set accepts every password; set require or min_classes, or remove the rule set")
	}
}

func joinClasses(cs []Class) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
