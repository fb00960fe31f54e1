package audit

import (
	"context"
	"fmt"

	"strongroom"
)

// SignOffReview records that the principal in ctx has read and accepts
// the daily review of day for tenant's trail (the platform's if tenant is
// empty) (AUD-6). The sign-off names the digest of the report it accepts,
// so a report changed afterwards would not match. It returns NotFound if
// no review of that day was made, Conflict if it was signed off already,
// and Unavailable if the event cannot be written. Callers authorise first.
func (r *Reader) SignOffReview(ctx context.Context, tenant strongroom.TenantID, day Day, note string) (*Event, error) {
	const op = "audit.SignOffReview"
	find := func(action string) (*Event, error) {
		q := Query{Tenant: tenant, Action: action, Limit: MaxQueryLimit}
		for {
			es, err := r.store.QueryEvents(ctx, q)
			if err != nil {
				return nil, err
			}
			for _, e := range es {
				if e.Tenant == tenant && e.Details["day"] == string(day) {
					return e, nil
				}
			}
			if len(es) < q.Limit {
				return nil, nil
			}
			q.AfterSeq = es[len(es)-1].Seq
		}
	}
	review, err := find(ActionReviewCreate)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	if review == nil {
		return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("no daily review of %s has been made for this trail", day))
	}
	done, err := find(ActionReviewSignOff)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	if done != nil {
		return nil, strongroom.E(op, strongroom.Conflict, fmt.Sprintf("the review of %s was signed off by %s on %s", day, done.Actor.Name, done.Time.UTC().Format("2006-01-02 15:04 MST")))
	}
	p, _ := strongroom.PrincipalFrom(ctx)
	c := strongroom.ClientFrom(ctx)
	e := &Event{
		Time: r.now(), Tenant: tenant, Actor: Actor{User: p.User, Name: p.Name},
		Action: ActionReviewSignOff, Class: ClassAPIActivity, Resource: "daily review " + string(day),
		Outcome: Success, Privileged: true, RequestID: strongroom.RequestIDFrom(ctx),
		UserAgent: c.UserAgent,
		Details:   map[string]string{"day": string(day), "digest": review.Details["digest"], "review_seq": fmt.Sprint(review.Seq)},
	}
	if c.Addr.IsValid() {
		e.SourceAddr = c.Addr.String()
	}
	if note != "" {
		e.Details["note"] = note
	}
	if err := r.store.RecordEvent(ctx, e); err != nil {
		return nil, strongroom.E(op, err)
	}
	return e, nil
}
