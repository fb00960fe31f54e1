package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"strongroom/internal/objects"
)

// requestNotice mails the people concerned by a step of an access request
// (ACC-4): a new request goes to its approvers (the tenant's
// administrators, and for a project its owner and its manage holders), a
// decision or lapse to the requester. It returns at once; mail failures
// are logged.
func (a *App) requestNotice(ctx context.Context, n objects.RequestNotice) {
	if a.identity.Mailer == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		var to []string
		if n.Event == "access_request.create" {
			admins, err := a.recipients(ctx, n.Request.Tenant, false)
			if err != nil {
				a.log.ErrorContext(ctx, "cannot find the approvers of an access request", "err", err)
			}
			to = admins
		}
		requester := string(n.Request.Requester)
		if u, err := a.identity.FindUserByID(ctx, n.Request.Requester); err == nil {
			requester = u.Name
		}
		for _, id := range n.To {
			if u, err := a.identity.FindUserByID(ctx, id); err == nil && u.Email != "" && !slices.Contains(to, u.Email) {
				to = append(to, u.Email)
			}
		}
		if len(to) == 0 {
			a.log.WarnContext(ctx, "access request notice not mailed: no one to mail has an e-mail address", "request", n.Request.ID, "event", n.Event)
			return
		}
		r := n.Request
		var subject, body string
		switch n.Event {
		case "access_request.create":
			subject = fmt.Sprintf("Strongroom: %s asks for %s", requester, r.What())
			body = fmt.Sprintf("%s asks for %s for %s.\n\nJustification:\n%s\n\n"+
				"Approve or deny it before %s with\n  strongroom request approve %s\n  strongroom request deny %s --why \"...\"\n"+
				"or in the console. Undecided, it lapses.\n", requester, r.What(), r.Duration, r.Justification,
				r.ExpiresAt.UTC().Format(time.RFC1123), r.ID, r.ID)
		case "access_request.approve":
			subject = fmt.Sprintf("Strongroom: your request for %s was approved", r.What())
			body = fmt.Sprintf("Your request %s for %s was approved. The access is yours now and ends by itself.\n", r.ID, r.What())
		case "access_request.deny":
			subject = fmt.Sprintf("Strongroom: your request for %s was denied", r.What())
			body = fmt.Sprintf("Your request %s for %s was denied:\n%s\n", r.ID, r.What(), r.Note)
		case "access_request.expire":
			subject = fmt.Sprintf("Strongroom: your request for %s lapsed", r.What())
			body = fmt.Sprintf("No one decided your request %s for %s in time; ask again if you still need it.\n", r.ID, r.What())
		default:
			return
		}
		if err := a.identity.Mailer.Mail(ctx, to, subject, body); err != nil {
			a.log.ErrorContext(ctx, "cannot mail an access request notice", "request", r.ID, "event", n.Event, "err", err)
		}
	}()
}
