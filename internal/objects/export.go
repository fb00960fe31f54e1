package objects

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
)

// ExportObjects calls fn with every visible object of the caller's tenant
// in every project the caller may read, with its decrypted bytes, so that
// the tenant can take all of its data with it (DAT-5). Projects come in
// name order, objects by name within a project. body is valid only until
// fn returns; an error from fn ends the export and is returned.
//
// Only the tenant's administrators may export; anyone else is refused with
// Permission, and the refusal is recorded. One privileged "tenant.export"
// event naming the projects, objects and bytes found at the start is
// recorded before the first object is read; the reads of the objects are
// not recorded one by one. Objects stored or deleted while the export runs
// may or may not be in it. Memory does not grow with the objects' sizes.
func (s *Service) ExportObjects(ctx context.Context, fn func(info *ObjectInfo, body io.Reader) error) error {
	const op = "objects.ExportObjects"
	p, err := principal(ctx, op)
	if err != nil {
		return err
	}
	return s.exportObjects(ctx, op, p.Tenant, "", nil, func(o *exportedObject) error { return fn(o.info, o.body) })
}

// exportedObject is one object of an export.
type exportedObject struct {
	info *ObjectInfo
	body io.Reader
	// dir is set when another object's name continues this one's with a
	// "/": in a file tree the name cannot be a file and a directory both.
	dir bool
}

// exportObjects authorises an export of tenant, records it, and calls fn
// with each object of every project but exclude. details, if set, are
// added to the recorded event.
func (s *Service) exportObjects(ctx context.Context, op string, tenant strongroom.TenantID, exclude ProjectID, details map[string]string, fn func(*exportedObject) error) error {
	p, err := principal(ctx, op)
	if err != nil {
		return err
	}
	if err := s.authorizeExport(ctx, op, p, tenant); err != nil {
		return err
	}
	var all []*Project
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		all, err = tx.FindProjects(ctx, tenant)
		return err
	}); err != nil {
		return wrap(op, err)
	}
	var projects []*Project
	for _, pr := range all {
		if pr.ID != exclude && access.Decide(p, access.ProjectRead, projectResource(pr)).Allow {
			projects = append(projects, pr)
		}
	}
	var count, size int64
	for _, pr := range projects {
		if err := s.eachRecord(ctx, pr, func(rec *ObjectRecord) error {
			count++
			size += rec.Size
			return nil
		}); err != nil {
			return wrap(op, err)
		}
	}
	if details == nil {
		details = map[string]string{}
	}
	if exclude != "" {
		details["excluded_project"] = string(exclude)
	}
	details["projects"] = strconv.Itoa(len(projects))
	details["objects"] = strconv.FormatInt(count, 10)
	details["bytes"] = strconv.FormatInt(size, 10)
	e := s.event(ctx, "tenant.export", tenant, string(tenant), details)
	e.Privileged = true
	if err := s.record(ctx, op, e); err != nil {
		return err
	}
	for _, pr := range projects {
		if err := s.exportProject(ctx, op, pr, fn); err != nil {
			return err
		}
	}
	return nil
}

// authorizeExport lets only an administrator of tenant export it. Another
// tenant's data is refused to everyone, operators included (ACC-1, ACC-7);
// the refusal goes into that tenant's trail, where its administrators see
// it.
func (s *Service) authorizeExport(ctx context.Context, op string, p strongroom.Principal, tenant strongroom.TenantID) error {
	d := access.Decide(p, access.ProjectList, access.Resource{Kind: "tenant data", Tenant: tenant})
	if d.Allow && p.Role != access.RoleAdmin {
		d = access.Decision{Reason: "exporting all of a tenant's data needs the tenant administrator role", Clause: "ACC-2"}
	}
	if d.Allow {
		return nil
	}
	e := s.event(ctx, "tenant.export", tenant, string(tenant), nil)
	e.Outcome, e.Reason, e.Clause, e.Privileged = audit.Denied, d.Reason, d.Clause, true
	if err := s.reads.Record(ctx, e); err != nil {
		return strongroom.E(op, strongroom.Unavailable, "the audit trail cannot be written; nothing was done", err)
	}
	return d.Err(op)
}

// eachRecord calls fn with every visible object record of pr, a page at a
// time.
func (s *Service) eachRecord(ctx context.Context, pr *Project, fn func(*ObjectRecord) error) error {
	const page = 1000
	after := ObjectID("")
	for {
		var recs []*ObjectRecord
		if err := s.store.View(ctx, func(tx Tx) (err error) {
			recs, err = tx.FindObjects(ctx, ObjectFilter{Project: pr.ID, Status: StatusClean, AfterID: after, Limit: page})
			return err
		}); err != nil {
			return err
		}
		for _, rec := range recs {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(recs) < page {
			return nil
		}
		after = recs[len(recs)-1].ID
	}
}

// exportProject calls fn with each visible object of pr in name order.
// Names are sealed, so it opens every name of the project first and keeps
// them (not the objects) while it runs, as a listing does.
func (s *Service) exportProject(ctx context.Context, op string, pr *Project, fn func(*exportedObject) error) error {
	type named struct {
		name string
		id   ObjectID
	}
	var list []named
	err := s.eachRecord(ctx, pr, func(rec *ObjectRecord) error {
		m, err := s.openMeta(ctx, rec.Tenant, rec.KeyVersion, "object", rec.Project, string(rec.ID), rec.Sealed)
		if err != nil {
			return err
		}
		list = append(list, named{m.Name, rec.ID})
		return nil
	})
	if err != nil {
		return wrap(op, err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	dirs := make(map[string]bool)
	for _, n := range list {
		for i := 1; i < len(n.name); i++ {
			if n.name[i] == '/' {
				dirs[n.name[:i]] = true
			}
		}
	}
	for _, n := range list {
		if err := ctx.Err(); err != nil {
			return strongroom.E(op, strongroom.Unavailable, "the export was cancelled", err)
		}
		rec, m, err := s.exportRecord(ctx, pr, n.id, n.name)
		if err != nil {
			return wrap(op, err)
		}
		if rec == nil {
			continue // deleted meanwhile
		}
		o, err := s.openRecord(ctx, rec)
		if err != nil {
			return wrap(op, err)
		}
		o.Info = s.info(pr, rec, m)
		body, err := o.Range(0, rec.Size)
		if err == nil {
			err = fn(&exportedObject{info: o.Info, body: body, dir: dirs[n.name]})
		}
		o.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// exportRecord finds the object listed as id and name again, now that it
// is its turn: it may have been deleted (nil) or replaced by a newer
// object of the same name since the listing.
func (s *Service) exportRecord(ctx context.Context, pr *Project, id ObjectID, name string) (*ObjectRecord, *objectMeta, error) {
	k, err := s.currentKey(ctx, pr.Tenant)
	if err != nil {
		return nil, nil, err
	}
	var rec *ObjectRecord
	err = s.store.View(ctx, func(tx Tx) (err error) {
		rec, err = tx.FindObjectByID(ctx, id)
		if strongroom.Is(err, strongroom.NotFound) {
			rec, err = s.findByName(ctx, tx, pr, name, k.Version())
		}
		return err
	})
	if strongroom.Is(err, strongroom.NotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if rec.Status != StatusClean || rec.Project != pr.ID {
		return nil, nil, nil
	}
	m, err := s.openMeta(ctx, rec.Tenant, rec.KeyVersion, "object", rec.Project, string(rec.ID), rec.Sealed)
	if err != nil {
		return nil, nil, err
	}
	return rec, m, nil
}

// ArchivePath returns where an export archive stores an object:
// objects/PROJECT/NAME when the name is a safe relative path, else
// renamed/PROJECT/ and the hex SHA-256 of the name, whose real name the
// archive's objects.jsonl gives. dir says that another object's name
// continues this one's with "/", so that it cannot be a file.
//
// Project names are safe by ValidProjectName. A safe path extracts to where its name says on every POSIX system: no
// leading "/", no empty, "." or ".." segment, no control character or
// backslash, valid UTF-8, segments of at most 255 bytes.
func ArchivePath(project, name string, dir bool) string {
	if !dir && safePath(name) {
		return "objects/" + project + "/" + name
	}
	sum := sha256.Sum256([]byte(name))
	return "renamed/" + project + "/" + hex.EncodeToString(sum[:])
}

func safePath(name string) bool {
	if name == "" || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '\\' || r == utf8.RuneError {
			return false
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg == "." || seg == ".." || len(seg) > 255 {
			return false
		}
	}
	return true
}

// describe names an object in errors.
func describe(info *ObjectInfo) string {
	return fmt.Sprintf("%s/%s", info.Project, info.Name)
}
