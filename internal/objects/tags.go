package objects

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"unicode"
	"unicode/utf8"

	"strongroom"
	"strongroom/internal/access"
)

// Object tags: up to MaxTags key-value pairs per object, sealed with the
// rest of the object's metadata (DAT-2) and refused when a key or value
// looks like a payment card number (DAT-7). They follow S3's rules, so
// that clients that tag objects work unchanged.

// Limits of object tags, as S3 sets them.
const (
	MaxTags        = 10
	MaxTagKeyLen   = 128 // characters
	MaxTagValueLen = 256 // characters
)

// ErrBadTag marks a tag set that breaks the rules above.
var ErrBadTag = errors.New("bad object tag")

// CheckTags refuses a tag set S3 would refuse, and one holding a card
// number (DAT-7).
func CheckTags(tags map[string]string) error {
	const op = "objects.CheckTags"
	if len(tags) > MaxTags {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("an object has at most %d tags; %d were given", MaxTags, len(tags)), ErrBadTag)
	}
	for k, v := range tags {
		switch n := utf8.RuneCountInString(k); {
		case n == 0:
			return strongroom.E(op, strongroom.Invalid, "a tag key may not be empty", ErrBadTag)
		case n > MaxTagKeyLen:
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("tag key %.20q... has %d characters; the limit is %d", k, n, MaxTagKeyLen), ErrBadTag)
		case !tagText(k):
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("tag key %q may hold letters, digits, spaces and + - = . _ : / @ only", k), ErrBadTag)
		}
		if n := utf8.RuneCountInString(v); n > MaxTagValueLen {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the value of tag %q has %d characters; the limit is %d", k, n, MaxTagValueLen), ErrBadTag)
		}
		if !tagText(v) {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the value of tag %q may hold letters, digits, spaces and + - = . _ : / @ only", k), ErrBadTag)
		}
		if err := NoCardNumber(fmt.Sprintf("tag %q", k), k); err != nil {
			return err
		}
		if err := NoCardNumber(fmt.Sprintf("the value of tag %q", k), v); err != nil {
			return err
		}
	}
	return nil
}

func tagText(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && !containsRune("+-=._:/@", r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

// ObjectTags returns an object's tags; the read is recorded (AUD-2).
func (s *Service) ObjectTags(ctx context.Context, project, name string) (_ map[string]string, err error) {
	const op = "objects.ObjectTags"
	defer s.failed(ctx, "object.tags.get", project+"/"+name, &err)
	p, _, rec, m, err := s.findObject(ctx, op, access.ObjectRead, project, name)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, op, s.event(ctx, "object.tags.get", p.Tenant, project+"/"+name, map[string]string{"object": string(rec.ID)})); err != nil {
		return nil, err
	}
	return maps.Clone(m.Tags), nil
}

// SetObjectTags replaces an object's tags (none: removes them). The new
// metadata is sealed under the key version of the object's record, and
// the change is recorded with it. Invalid for tags CheckTags refuses;
// Conflict if the object changed meanwhile.
func (s *Service) SetObjectTags(ctx context.Context, project, name string, tags map[string]string) (err error) {
	const op = "objects.SetObjectTags"
	action := "object.tags.put"
	if len(tags) == 0 {
		action = "object.tags.delete"
	}
	defer s.failed(ctx, action, project+"/"+name, &err)
	if err := CheckTags(tags); err != nil {
		return err
	}
	p, _, rec, m, err := s.findObject(ctx, op, access.ObjectWrite, project, name)
	if err != nil {
		return err
	}
	k, err := s.tenantKey(ctx, rec.Tenant, rec.KeyVersion)
	if err != nil {
		return wrap(op, err)
	}
	m.Tags = maps.Clone(tags)
	if len(m.Tags) == 0 {
		m.Tags = nil
	}
	sealed, err := s.sealMeta(k, "object", rec.Project, string(rec.ID), m)
	if err != nil {
		return err
	}
	return s.update(ctx, op, func(tx Tx) error {
		cur, err := tx.FindObjectByID(ctx, rec.ID)
		if err != nil {
			return err
		}
		if cur.KeyVersion != rec.KeyVersion || cur.Status != StatusClean {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("object %q changed while its tags were set; set them again", name))
		}
		kv := rec.KeyVersion
		if err := tx.UpdateObject(ctx, rec.ID, ObjectUpdate{KeyVersion: &kv, NameMAC: cur.NameMAC, Sealed: sealed, Segments: cur.Segments}); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, action, p.Tenant, project+"/"+name, map[string]string{"object": string(rec.ID), "tags": strconv.Itoa(len(tags))}))
	})
}
