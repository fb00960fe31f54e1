package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"strongroom"
	"strongroom/internal/config"
	"strongroom/internal/identity"
	"strongroom/internal/notify"
)

// notifyCloseTimeout bounds how long Close waits for queued alerts and
// webhook events to go out.
const notifyCloseTimeout = 5 * time.Second

// notifiers are the running parts of notification; nil fields are off.
type notifiers struct {
	alerter *identity.Alerter
	webhook *notify.Webhook
}

// openNotify builds the mailer and webhooks of cfg.Notify and gives them
// to the identity service: lockout alerts to administrators (IAM-4,
// AUD-7) and password expiry reminders to users (IAM-2).
func (a *App) openNotify() error {
	n := a.cfg.Notify
	var mailer identity.Mailer
	var hooks identity.Publisher
	if n.SMTP.Addr != "" {
		m, err := newMailer(n.SMTP)
		if err != nil {
			return err
		}
		m.Now = a.now
		mailer, a.identity.Mailer = m, m
	}
	if len(n.Webhook.URLs) > 0 {
		w, err := a.newWebhook(n.Webhook)
		if err != nil {
			return err
		}
		w.Now = a.now
		hooks, a.notify.webhook = w, w
	}
	if mailer == nil && hooks == nil {
		return nil
	}
	a.notify.alerter = identity.NewAlerter(a.identity, mailer, hooks, a.log)
	a.identity.OnLockout = a.notify.alerter.Lockout
	a.registerNotifyMetrics()
	return nil
}

func newMailer(c config.SMTP) (*notify.Mailer, error) {
	m, err := notify.NewMailer(c.Addr, c.From)
	if err != nil {
		return nil, configErr("notify.smtp.addr", err)
	}
	m.ImplicitTLS = c.TLS == "implicit"
	m.Timeout = c.Timeout.Std()
	if m.RootCAs, err = loadCAFile("notify.smtp.ca_file", c.CAFile); err != nil {
		return nil, err
	}
	if c.Username == "" {
		return m, nil
	}
	m.Username = c.Username
	var pw []byte
	switch {
	case c.PasswordFile != "":
		if pw, err = readSecretFile("notify.smtp.password_file", c.PasswordFile); err != nil {
			return nil, err
		}
	default:
		pw = []byte(os.Getenv(c.PasswordEnv))
		if len(pw) == 0 {
			return nil, configErr("notify.smtp.password_env", fmt.Errorf("environment variable %s is empty or not set", c.PasswordEnv))
		}
	}
	m.Password = notify.NewSecret(pw)
	clear(pw)
	return m, nil
}

func (a *App) newWebhook(c config.Webhook) (*notify.Webhook, error) {
	secret, err := readSecretFile("notify.webhook.secret_file", c.SecretFile)
	if err != nil {
		return nil, err
	}
	w, err := notify.NewWebhook(c.URLs, notify.NewSecret(secret), a.log)
	clear(secret)
	if err != nil {
		return nil, configErr("notify.webhook.secret_file", err)
	}
	w.Timeout = c.Timeout.Std()
	if w.RootCAs, err = loadCAFile("notify.webhook.ca_file", c.CAFile); err != nil {
		return nil, err
	}
	return w, nil
}

// readSecretFile returns the content of a secret file without its final
// line break.
func readSecretFile(key, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, configErr(key, err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, configErr(key, fmt.Errorf("%s is empty", path))
	}
	return b, nil
}

// loadCAFile returns the certificates in the PEM file at path, or nil (the
// system's roots) if path is empty.
func loadCAFile(key, path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, configErr(key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, configErr(key, fmt.Errorf("%s holds no PEM certificate", path))
	}
	return pool, nil
}

func configErr(key string, err error) error {
	return strongroom.E("app.New", strongroom.Invalid, fmt.Sprintf("invalid configuration: %s", key), err)
}

// registerNotifyMetrics exports what notification had to give up.
func (a *App) registerNotifyMetrics() {
	count := func(name, help, queue string, f func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: name, Help: help, ConstLabels: prometheus.Labels{"queue": queue},
		}, func() float64 { return float64(f()) })
	}
	const (
		dropped = "strongroom_notify_dropped_total"
		failed  = "strongroom_notify_failed_total"
		dHelp   = "Alerts and webhook events dropped because their queue was full."
		fHelp   = "Alerts and webhook events given up after their last delivery attempt."
	)
	a.metrics.MustRegister(
		count(dropped, dHelp, "alert", a.notify.alerter.Dropped),
		count(failed, fHelp, "alert", a.notify.alerter.Failed),
	)
	if w := a.notify.webhook; w != nil {
		a.metrics.MustRegister(count(dropped, dHelp, "webhook", w.Dropped), count(failed, fHelp, "webhook", w.Failed))
	}
}

// warnNotifyGaps tells the operator which notifications the configuration
// leaves out.
func (a *App) warnNotifyGaps() {
	if a.cfg.Notify.SMTP.Addr != "" {
		return
	}
	a.log.Warn("no mail server is configured (notify.smtp.addr): administrators are not mailed when a user ID is locked or unlocked (IAM-4, AUD-7)")
	if a.policy.Password.ReminderBefore > 0 {
		a.log.Warn("no mail server is configured (notify.smtp.addr): the profile's password expiry reminders are not sent (password.reminder_before, IAM-2)")
	}
}

// close sends what is queued, within notifyCloseTimeout; alerts first,
// since they publish to the webhooks.
func (n *notifiers) close(a *App) {
	ctx, cancel := context.WithTimeout(context.Background(), notifyCloseTimeout)
	defer cancel()
	if n.alerter != nil {
		if err := n.alerter.Close(ctx); err != nil {
			a.log.Error("lockout alerts left unsent at shutdown", "err", err)
		}
	}
	if n.webhook != nil {
		if err := n.webhook.Close(ctx); err != nil {
			a.log.Error("webhook events left undelivered at shutdown", "err", err)
		}
	}
}
