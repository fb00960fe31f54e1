package identity

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

// Mailer sends mail to people; notify.Mailer implements it.
type Mailer interface {
	// Mail sends a plain-text message to each address in to. It returns
	// nil once the mail server took it; Invalid if the server refused a
	// recipient for good; Unavailable if the server could not be reached
	// or refused for now. It may block for as long as its own timeout, so
	// the service calls it only from background work, never while a
	// request waits. It may be called from several goroutines at once.
	Mail(ctx context.Context, to []string, subject, body string) error
}

// Publisher hands events to other systems, such as webhooks;
// notify.Webhook implements it.
type Publisher interface {
	// Publish queues an event and returns at once; delivery happens in
	// the background, at best effort. data never holds secrets. It may be
	// called from several goroutines at once.
	Publish(event string, data map[string]string)
}

// reminderTx records the password expiry reminders sent (IAM-2).
type reminderTx interface {
	// FindPasswordReminder returns the password expiry the user was last
	// reminded of. It returns NotFound if the user was never reminded.
	FindPasswordReminder(ctx context.Context, user strongroom.UserID) (time.Time, error)
	// PutPasswordReminder records that user was reminded at sent of the
	// password expiring at expires, replacing any earlier record. It
	// returns NotFound if there is no such user.
	PutPasswordReminder(ctx context.Context, user strongroom.UserID, expires, sent time.Time) error
}

// RemindPasswordExpiry mails each active user with an e-mail address
// whose password expires within the profile's password.reminder_before
// ("a reminder will be forwarded to each user 4 days prior to the forced
// change", IAM-2). A user is reminded once per expiry: each reminder is
// recorded, with the expiry it was for, in the same transaction as its
// audit event (user.password.reminder), so a new password, with its new
// expiry, gets a reminder of its own. A user whose password is already
// expired, or who must change it at the next sign-in anyway, is told at
// sign-in instead.
//
// The mail is sent before the reminder is recorded, so a crash in
// between can repeat a reminder but never lose one. An address the mail
// server refuses for good is recorded as a failed reminder and not tried
// again for that expiry. It returns how many users were mailed, and stops
// at any other error (Unavailable while the mail server is down), leaving
// the rest to the next call. It
// does nothing if s.Mailer is nil or the profile forces no change.
func (s *Service) RemindPasswordExpiry(ctx context.Context) (int, error) {
	const op = "identity.RemindPasswordExpiry"
	pp := s.policy().Password
	before := pp.ReminderBefore.Std()
	if s.Mailer == nil || pp.MaxAge.Std() <= 0 || before <= 0 {
		return 0, nil
	}
	now := s.now()
	type due struct {
		user    *User
		expires time.Time
	}
	var dues []due
	err := s.store.View(ctx, func(tx Tx) error {
		dues = nil
		us, err := tx.FindUsers(ctx, UserFilter{Status: StatusActive})
		if err != nil {
			return err
		}
		for _, u := range us {
			exp := s.PasswordExpiry(u)
			if u.Email == "" || u.MustChangePassword || exp.IsZero() || !now.Before(exp) || now.Before(exp.Add(-before)) {
				continue
			}
			last, err := tx.FindPasswordReminder(ctx, u.ID)
			switch {
			case strongroom.Is(err, strongroom.NotFound):
			case err != nil:
				return err
			case last.Equal(exp):
				continue
			}
			dues = append(dues, due{u, exp})
		}
		return nil
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	sent := 0
	for _, d := range dues {
		subject, body := reminderMessage(d.user, d.expires, now)
		mailErr := s.Mailer.Mail(ctx, []string{d.user.Email}, subject, body)
		if mailErr != nil && (!strongroom.Is(mailErr, strongroom.Invalid) || ctx.Err() != nil) {
			return sent, wrap(op, mailErr)
		}
		if err := s.recordReminder(ctx, d.user, d.expires, now, mailErr); err != nil {
			return sent, wrap(op, err)
		}
		if mailErr != nil {
			s.log.ErrorContext(ctx, "password expiry reminder refused by the mail server", "user", d.user, "err", mailErr)
			continue
		}
		sent++
		s.log.InfoContext(ctx, "password expiry reminder sent", "user", d.user, "expires", d.expires)
	}
	return sent, nil
}

// recordReminder records the reminder of u for the password expiring at
// exp, failed if mailErr is not nil.
func (s *Service) recordReminder(ctx context.Context, u *User, exp, now time.Time, mailErr error) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if err := tx.PutPasswordReminder(ctx, u.ID, exp, now); err != nil {
			return err
		}
		e := s.event(ctx, now, "user.password.reminder", audit.ClassAccountChange, u.Tenant, string(u.ID), map[string]string{
			"name":    u.Name,
			"expires": exp.Format(time.RFC3339),
		})
		e.Actor, e.Privileged = audit.SystemActor, false
		e.Clause = clauseOf("password.reminder_before")
		if mailErr != nil {
			e.Outcome, e.Reason = audit.Failure, "the mail server refused the address"
		}
		return tx.AppendEvent(ctx, e)
	})
}

// reminderMessage returns the subject and body of a reminder. It holds no
// link on purpose: people should never learn to sign in from a mail.
func reminderMessage(u *User, exp, now time.Time) (subject, body string) {
	days := int((exp.Sub(now) + 24*time.Hour - 1) / (24 * time.Hour))
	in := "in 1 day"
	if days != 1 {
		in = fmt.Sprintf("in %d days", days)
	}
	subject = fmt.Sprintf("Your Strongroom password expires %s", in)
	body = fmt.Sprintf(`Hello %s,

your Strongroom password expires on %s, %s.

Please sign in to Strongroom and choose a new password before then. After
that time you will have to change it before you can do anything else
(%s).

This message has no link on purpose: open Strongroom the way you always
do, and never enter your password on a page you reached from a mail.
`, u.Name, formatAlertTime(exp), in, clauseOf("password.max_age"))
	return subject, body
}

// formatAlertTime writes t for people: to the second, in UTC.
func formatAlertTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// Defaults of an Alerter's optional fields.
const (
	defaultAlertAttempts = 3
	defaultAlertBackoff  = 5 * time.Second
	defaultAlertQueue    = 1000
	alertTimeout         = 2 * time.Minute
)

// Alerter tells people at once when a user ID is locked or unlocked
// (IAM-4, AUD-7): by mail to the administrators of the user's tenant and
// to the platform's operators, and as an event (user.lock, user.unlock)
// to webhooks. [Alerter.Lockout] is what Service.OnLockout takes.
//
// Alerts are sent by one goroutine from a bounded queue, after the lock or
// unlock has committed, so that a slow or unreachable mail server never
// delays or fails a sign-in. When the queue is full an alert is dropped,
// logged as an error and counted (Dropped); one that cannot be mailed
// after its attempts is logged as an error and counted (Failed). Alerts
// hold no passwords, codes or tokens. Set the optional fields before the
// first call of Lockout; the methods may be called from several
// goroutines at once.
type Alerter struct {
	// Attempts bounds the tries to mail one alert. If 0, 3.
	Attempts int
	// Backoff is the wait before the second try; each further try waits
	// twice as long. If 0, 5 seconds.
	Backoff time.Duration
	// QueueSize bounds the alerts waiting. If 0, 1000.
	QueueSize int

	svc   *Service
	mail  Mailer
	hooks Publisher
	log   *slog.Logger

	start  sync.Once
	queue  chan lockAlert
	mu     sync.RWMutex // guards closed against Lockout
	closed bool
	stop   chan struct{} // closed by Close
	done   chan struct{} // closed when the goroutine ends
	abort  context.CancelFunc

	dropped, failed atomic.Uint64
}

// NewAlerter returns an Alerter that finds recipients through s and sends
// through mail and hooks; either may be nil to send nothing that way.
func NewAlerter(s *Service, mail Mailer, hooks Publisher, logger *slog.Logger) *Alerter {
	return &Alerter{svc: s, mail: mail, hooks: hooks, log: logger, stop: make(chan struct{}), done: make(chan struct{})}
}

// lockAlert is what an alert says, taken when the lock or unlock
// committed.
type lockAlert struct {
	user    User
	network string
	locked  bool
	at      time.Time
	source  string // the client's address: the failing one, or the unlocking administrator's
	actor   string // who unlocked; empty for a lock
	until   time.Time
	fails   int
}

// Lockout queues an alert of a committed lock (locked) or unlock of u's
// user ID and returns at once. It has the signature of Service.OnLockout.
func (a *Alerter) Lockout(ctx context.Context, u *User, l Lockout, locked bool) {
	a.start.Do(a.run)
	al := lockAlert{user: *u, network: l.Network, locked: locked, at: a.svc.now(), fails: len(l.Failures)}
	al.user.PasswordHash = ""
	if c := strongroom.ClientFrom(ctx); c.Addr.IsValid() {
		al.source = c.Addr.String()
	}
	if locked {
		al.until = l.LockedUntil
	} else if p, ok := strongroom.PrincipalFrom(ctx); ok {
		al.actor = p.Name
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if !a.closed {
		select {
		case a.queue <- al:
			return
		default:
		}
	}
	a.dropped.Add(1)
	a.log.ErrorContext(ctx, "lockout alert dropped: the alert queue is full or shut down", "user", u, "locked", locked, "queue", cap(a.queue))
}

// Dropped returns how many alerts were dropped because the queue was
// full; Failed, how many could not be mailed.
func (a *Alerter) Dropped() uint64 { return a.dropped.Load() }

// Failed: see Dropped.
func (a *Alerter) Failed() uint64 { return a.failed.Load() }

// Close stops taking alerts and sends those queued, without waiting
// between attempts, until ctx ends; then it gives up the rest. It returns
// ctx's error if it ended first.
func (a *Alerter) Close(ctx context.Context) error {
	a.start.Do(a.run)
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.stop)
	}
	a.mu.Unlock()
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		a.abort()
		return ctx.Err()
	}
}

func (a *Alerter) run() {
	a.queue = make(chan lockAlert, cmp.Or(a.QueueSize, defaultAlertQueue))
	ctx, cancel := context.WithCancel(context.Background())
	a.abort = cancel
	go func() {
		defer close(a.done)
		defer cancel()
		for {
			select {
			case al := <-a.queue:
				a.send(ctx, al)
				continue
			case <-a.stop:
			}
			for {
				select {
				case al := <-a.queue:
					a.send(ctx, al)
				default:
					return
				}
			}
		}
	}()
}

// send publishes al and mails it, retrying the mail.
func (a *Alerter) send(ctx context.Context, al lockAlert) {
	ctx, cancel := context.WithTimeout(ctx, alertTimeout)
	defer cancel()
	tenant, to, err := a.svc.alertRecipients(ctx, al.user.Tenant)
	if err != nil {
		// The webhook still goes out, with the tenant's ID only.
		a.log.ErrorContext(ctx, "cannot find whom to alert of a lockout", "user", al.user, "err", err)
	}
	data := al.data(tenant)
	if a.hooks != nil {
		a.hooks.Publish(al.event(), data)
	}
	if a.mail == nil || err != nil {
		if err != nil {
			a.failed.Add(1)
		}
		return
	}
	if len(to) == 0 {
		a.failed.Add(1)
		a.log.ErrorContext(ctx, "lockout alert not mailed: no active administrator of the tenant and no operator has an e-mail address", "user", al.user)
		return
	}
	subject, body := al.message(tenant)
	wait := cmp.Or(a.Backoff, defaultAlertBackoff)
	attempts := cmp.Or(a.Attempts, defaultAlertAttempts)
	for i := 1; ; i++ {
		err = a.mail.Mail(ctx, to, subject, body)
		if err == nil {
			a.log.InfoContext(ctx, "lockout alert mailed", "user", al.user, "locked", al.locked, "recipients", len(to))
			return
		}
		if i >= attempts || !strongroom.Is(err, strongroom.Unavailable) || a.stopping() {
			break
		}
		a.log.WarnContext(ctx, "cannot mail lockout alert; retrying", "user", al.user, "attempt", i, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-a.stop:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
		}
		wait *= 2
	}
	a.failed.Add(1)
	a.log.ErrorContext(ctx, "cannot mail lockout alert", "user", al.user, "locked", al.locked, "err", err)
}

func (a *Alerter) stopping() bool {
	select {
	case <-a.stop:
		return true
	default:
		return false
	}
}

// alertRecipients returns the name of tenant and the addresses of its
// active administrators and of the platform's active operators.
func (s *Service) alertRecipients(ctx context.Context, tenant strongroom.TenantID) (string, []string, error) {
	var name string
	var to []string
	err := s.store.View(ctx, func(tx Tx) error {
		t, err := tx.FindTenantByID(ctx, tenant)
		if err != nil {
			return err
		}
		name = t.Name
		admins, err := tx.FindUsers(ctx, UserFilter{Tenant: tenant, Role: RoleAdmin, Status: StatusActive})
		if err != nil {
			return err
		}
		ops, err := tx.FindUsers(ctx, UserFilter{OperatorsOnly: true, Status: StatusActive})
		if err != nil {
			return err
		}
		to = nil
		for _, u := range append(admins, ops...) {
			if u.Email != "" && !slices.Contains(to, u.Email) {
				to = append(to, u.Email)
			}
		}
		return nil
	})
	return name, to, err
}

func (al *lockAlert) event() string {
	if al.locked {
		return "user.lock"
	}
	return "user.unlock"
}

// data is the alert as a webhook event's data.
func (al *lockAlert) data(tenant string) map[string]string {
	d := map[string]string{
		"user_id":   string(al.user.ID),
		"user_name": al.user.Name,
		"tenant_id": string(al.user.Tenant),
		"time":      al.at.Format(time.RFC3339),
		"network":   cmp.Or(al.network, "any"),
		"clause":    clauseOf("lockout.threshold"),
	}
	add := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	add("tenant_name", tenant)
	add("source_address", al.source)
	if al.locked {
		d["failures"] = strconv.Itoa(al.fails)
		if al.until.IsZero() {
			d["locked_until"] = "unlocked by an administrator"
		} else {
			d["locked_until"] = al.until.Format(time.RFC3339)
		}
	} else {
		add("unlocked_by", al.actor)
	}
	return d
}

// message is the alert as a mail.
func (al *lockAlert) message(tenant string) (subject, body string) {
	clause := clauseOf("lockout.threshold")
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%-16s %s\n", k+":", v) }
	network := al.network
	if network == "" {
		network = "all networks (the lock counts failures per account)"
	}
	if al.locked {
		subject = fmt.Sprintf("Strongroom alert: user ID %s of tenant %s locked (%s)", al.user.Name, tenant, clause)
		fmt.Fprintf(&b, "The user ID %s of tenant %s was locked after %d failed sign-ins.\n\n", al.user.Name, tenant, al.fails)
	} else {
		subject = fmt.Sprintf("Strongroom alert: user ID %s of tenant %s unlocked (%s)", al.user.Name, tenant, clause)
		fmt.Fprintf(&b, "The user ID %s of tenant %s was unlocked by %s.\n\n", al.user.Name, tenant, cmp.Or(al.actor, "the system"))
	}
	row("User", al.user.String())
	row("Tenant", fmt.Sprintf("%s (%s)", tenant, al.user.Tenant))
	if al.locked {
		row("Source address", cmp.Or(al.source, "unknown"))
		row("Locked from", network)
	} else {
		row("Unlocked from", cmp.Or(al.source, "unknown"))
		row("Lock lifted for", network)
	}
	row("Time", formatAlertTime(al.at))
	if al.locked {
		until := "until an administrator unlocks it"
		if !al.until.IsZero() && !al.until.Equal(LockedForever) {
			until = formatAlertTime(al.until)
		}
		row("Locked until", until)
	}
	row("Clause", clause+" (lockout after repeated failed sign-ins)")
	if al.locked {
		fmt.Fprintf(&b, "\nIf %s did not cause these failures, someone may be trying to guess the\npassword. Confirm the user's identity before unlocking the ID\n(strongroom user unlock %s).\n", al.user.Name, al.user.Name)
	}
	fmt.Fprintf(&b, "\nThe audit trail records this as %s.\n", al.event())
	return subject, b.String()
}
