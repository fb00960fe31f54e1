package app

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"path/filepath"
	"strconv"

	"strongroom/internal/audit"
	"strongroom/internal/config"
	"strongroom/internal/notify"
)

// syslogAuditFacility is "log audit" (RFC 5424, table 1).
const syslogAuditFacility = 13

// syslogSDID names the structured data element of each audit message. 32473
// is the enterprise number RFC 5612 reserves for documentation; receivers
// match the element by this name.
const syslogSDID = "strongroom@32473"

// streamCursors is where the audit stream keeps each sink's place.
func (l layout) streamCursors() string { return filepath.Join(l.dir, "audit", "stream.json") }

// openStream builds the sinks of cfg.AuditStream, so that a bad setting
// stops the server from starting rather than the stream later.
func (a *App) openStream() error {
	c := a.cfg.AuditStream
	if c.Syslog.Addr != "" {
		s, err := newSyslog(c.Syslog, a)
		if err != nil {
			return err
		}
		a.streamSinks = append(a.streamSinks, &syslogSink{s: s})
	}
	for i, u := range c.Webhook.URLs {
		w, err := a.newWebhook(config.Webhook{URLs: []string{u}, SecretFile: c.Webhook.SecretFile, CAFile: c.Webhook.CAFile, Timeout: c.Webhook.Timeout})
		if err != nil {
			return configErr("audit_stream.webhook.urls["+strconv.Itoa(i)+"]", err)
		}
		sum := sha256.Sum256([]byte(u))
		// Named by a hash: the URL may hold a token, and the cursor file
		// is no place for it.
		a.streamSinks = append(a.streamSinks, &webhookSink{w: w, name: "webhook:" + hex.EncodeToString(sum[:8])})
	}
	return nil
}

func newSyslog(c config.SyslogSink, a *App) (*notify.Syslog, error) {
	s, err := notify.NewSyslog(c.Addr, a.log)
	if err != nil {
		return nil, configErr("audit_stream.syslog.addr", err)
	}
	s.Timeout = c.Timeout.Std()
	if s.RootCAs, err = loadCAFile("audit_stream.syslog.ca_file", c.CAFile); err != nil {
		return nil, err
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, configErr("audit_stream.syslog.cert_file", err)
		}
		s.Certificates = []tls.Certificate{cert}
	}
	return s, nil
}

// stream runs the audit exporter until ctx ends: off the
// stored trail, on goroutines of its own, so that no request waits for a
// sink.
func (a *App) stream(ctx context.Context) {
	if len(a.streamSinks) == 0 {
		return
	}
	log := a.log.With("component", "audit-stream")
	cursors, err := audit.OpenCursorFile(layout{a.cfg.Data}.streamCursors())
	if err != nil {
		log.Error("the audit stream does not run", "err", err)
		return
	}
	audit.NewExporter(a.db.AuditStream(), cursors, log).Run(ctx, a.streamSinks)
	for _, s := range a.streamSinks {
		if s, ok := s.(*syslogSink); ok {
			s.s.Close()
		}
	}
}

// syslogSink sends each event as one RFC 5424 message: MSG is the event's
// stored JSON, the structured data names its log, index and sequence
// number.
type syslogSink struct{ s *notify.Syslog }

func (s *syslogSink) Name() string { return "syslog:" + s.s.Addr() }

func (s *syslogSink) Send(ctx context.Context, ds []audit.Delivery) (int, error) {
	msgs := make([]notify.SyslogMessage, len(ds))
	for i, d := range ds {
		m := notify.SyslogMessage{Facility: syslogAuditFacility, Severity: 5, Msg: d.Record}
		if e, err := audit.Unmarshal(d.Record); err == nil {
			m.Time, m.MsgID = e.Time, e.Action
			if e.Outcome != audit.Success {
				m.Severity = 4
			}
		}
		m.Data = []notify.SDElement{{ID: syslogSDID, Params: deliveryParams(d)}}
		msgs[i] = m
	}
	return s.s.Send(ctx, msgs)
}

func deliveryParams(d audit.Delivery) []notify.SDParam {
	return []notify.SDParam{
		{Name: "tenant", Value: d.Log.Label()},
		{Name: "day", Value: string(d.Log.Day)},
		{Name: "index", Value: strconv.FormatUint(d.Index, 10)},
		{Name: "seq", Value: strconv.FormatUint(d.Seq, 10)},
	}
}

// webhookSink posts each event as a signed webhook event of type
// "audit.event" whose data holds the log, index and sequence number and,
// under "record", the event's stored JSON as a string: the exact bytes
// the log hashed, so a receiver can check them against an inclusion
// proof. The ID is the same in every attempt.
type webhookSink struct {
	w    *notify.Webhook
	name string
}

func (s *webhookSink) Name() string { return s.name }

func (s *webhookSink) Send(ctx context.Context, ds []audit.Delivery) (int, error) {
	for i, d := range ds {
		ev := notify.Event{ID: "audit-" + strconv.FormatUint(d.Seq, 10), Type: "audit.event", Data: map[string]string{"record": string(d.Record)}}
		if e, err := audit.Unmarshal(d.Record); err == nil {
			ev.Time = e.Time.UTC()
		}
		for _, p := range deliveryParams(d) {
			ev.Data[p.Name] = p.Value
		}
		if err := s.w.Deliver(ctx, ev); err != nil {
			return i, err
		}
	}
	return len(ds), nil
}
