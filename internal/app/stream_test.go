package app

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/audit"
	"strongroom/internal/config"
	"strongroom/internal/identity"
	"strongroom/internal/testenv"
	"strongroom/internal/yamlconf"
)

// TestAuditSearchOverAPI: a tenant administrator searches the tenant's
// events and never another tenant's or the platform's (AUD-8); operators
// search the platform's only; every search is itself an audit.read event.
func TestAuditSearchOverAPI(t *testing.T) {
	ta, root, _ := bootstrapped(t)
	carol := tenantAdmin(t, ta, root)
	ctx := context.Background()
	var acme api.TenantView
	mustDo(t, root.Client, "GET", "/api/v1/tenants/acme", nil, nil, &acme)

	search := func(who *signedIn, q map[string][]string) (*api.AuditEventsView, error) {
		var out api.AuditEventsView
		err := who.Do(ctx, "GET", "/api/v1/audit/events", q, nil, &out)
		return &out, err
	}
	decode := func(t *testing.T, v api.AuditEventView) *audit.Event {
		t.Helper()
		e, err := audit.Unmarshal(v.Event)
		if err != nil {
			t.Fatalf("event %d: %v", v.Seq, err)
		}
		return e
	}

	t.Run("tenant administrator searches the tenant", func(t *testing.T) {
		out, err := search(carol, nil)
		if err != nil || len(out.Events) == 0 {
			t.Fatalf("search = %+v, %v", out, err)
		}
		for _, v := range out.Events {
			if e := decode(t, v); e.Tenant != acme.ID {
				t.Errorf("carol's search returned event %d of tenant %q", v.Seq, e.Tenant)
			}
		}
		out, err = search(carol, map[string][]string{"action": {"user."}, "outcome": {"success"}})
		if err != nil || len(out.Events) == 0 {
			t.Fatalf("filtered search = %+v, %v", out, err)
		}
		for _, v := range out.Events {
			if e := decode(t, v); !strings.HasPrefix(e.Action, "user.") || e.Outcome != audit.Success {
				t.Errorf("filtered search returned %s %s", e.Action, e.Outcome)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		var seqs []uint64
		q := map[string][]string{"limit": {"2"}}
		for {
			out, err := search(carol, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range out.Events {
				seqs = append(seqs, v.Seq)
			}
			if !out.More {
				break
			}
			q["after"] = []string{strconv.FormatUint(out.Next, 10)}
		}
		all, _ := search(carol, map[string][]string{"limit": {"1000"}})
		if len(seqs) < 3 || len(seqs) > len(all.Events) {
			t.Errorf("paging gave %d events, one page of 1000 %d", len(seqs), len(all.Events))
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Fatalf("pages out of order: %v", seqs)
			}
		}
	})

	for _, tc := range []struct {
		name  string
		who   *signedIn
		query map[string][]string
	}{
		{"another tenant's events", carol, map[string][]string{"tenant": {"default"}}},
		{"the platform's events", carol, map[string][]string{"platform": {"true"}}},
		{"operator searching a tenant", root, map[string][]string{"tenant": {"acme"}}},
	} {
		t.Run(tc.name+" refused", func(t *testing.T) {
			out, err := search(tc.who, tc.query)
			if !strongroom.Is(err, strongroom.Permission) || !strings.Contains(err.Error(), "AUD-8") || len(out.Events) != 0 {
				t.Errorf("search %v = %d events, %v; want Permission naming AUD-8", tc.query, len(out.Events), err)
			}
		})
	}

	t.Run("operator searches the platform", func(t *testing.T) {
		out, err := search(root, map[string][]string{"platform": {"true"}, "limit": {"1000"}})
		if err != nil || len(out.Events) == 0 {
			t.Fatalf("search = %+v, %v", out, err)
		}
		for _, v := range out.Events {
			if e := decode(t, v); e.Tenant != "" {
				t.Errorf("platform search returned event %d of tenant %q", v.Seq, e.Tenant)
			}
		}
	})

	t.Run("bad query", func(t *testing.T) {
		if _, err := search(carol, map[string][]string{"limit": {"5000"}}); !strongroom.Is(err, strongroom.Invalid) {
			t.Errorf("limit 5000: %v, want Invalid", err)
		}
	})

	t.Run("reads are recorded", func(t *testing.T) {
		out, err := search(carol, map[string][]string{"action": {"audit.read"}, "limit": {"1000"}})
		if err != nil {
			t.Fatal(err)
		}
		var filters []string
		for _, v := range out.Events {
			e := decode(t, v)
			if e.Actor.Name == "carol" && e.Details["what"] == "events" {
				filters = append(filters, e.Details["filter.action"]+"/"+e.Details["filter.outcome"])
			}
		}
		// The unfiltered search, the filtered one, and this one.
		for _, want := range []string{"/", "user./success", "audit.read/"} {
			if !strings.Contains(strings.Join(filters, " ")+" ", want+" ") {
				t.Errorf("recorded reads by carol %q lack filter %q", filters, want)
			}
		}
	})
}

var sdPattern = regexp.MustCompile(`\[strongroom@32473 tenant="([^"]+)" day="([^"]+)" index="(\d+)" seq="(\d+)"\] (\{.*\})$`)

// TestAuditStreamToSyslogAndWebhook: every integrated event reaches a
// syslog receiver over TLS and a webhook receiver, in order, with the
// indexes of each log consecutive; a receiver that goes down and comes
// back gets what it missed, with no gap and no repeat.
func TestAuditStreamToSyslogAndWebhook(t *testing.T) {
	recv := testenv.StartSyslog(t)
	hooks := newHookReceiver(t)
	cfg := notifyConfig(t, testenv.StartSMTP(t, testenv.SMTPOptions{Username: "strongroom", Password: "relay password"}), nil)
	cfg.AuditStream.Syslog = config.SyslogSink{Addr: recv.Addr, CAFile: writeTestFile(t, "syslog-ca.pem", recv.CAPEM), Timeout: yamlconf.Duration(2 * time.Second)}
	hookCfg := notifyConfig(t, testenv.StartSMTP(t, testenv.SMTPOptions{}), hooks).Notify.Webhook
	hookCfg.URLs = []string{hooks.URL + "/audit"}
	cfg.AuditStream.Webhook = hookCfg
	a, out := newApp(t, cfg)
	ta := start(t, a, out)
	ctx := context.Background()

	failBootstrap := func(n int) {
		for i := range n {
			_, err := Bootstrap(ctx, cfg, testLogger(t), fmt.Sprintf("srboot_wrong%d", i), identity.UserSpec{Name: "root"}, "irrelevant-password-1")
			if err == nil {
				t.Fatal("bootstrap with a wrong token succeeded")
			}
		}
	}
	// checkSyslog waits until the receiver has every integrated event, at
	// least atLeast, then checks order, indexes and content, and returns
	// the events.
	checkSyslog := func(atLeast int) []audit.Delivery {
		t.Helper()
		var (
			msgs []string
			want []audit.Delivery
			err  error
		)
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if want, err = ta.db.AuditStream().IntegratedEvents(ctx, 0, 100000); err != nil {
				t.Fatal(err)
			}
			msgs = recv.Messages(t)
			if len(want) >= atLeast && len(msgs) >= len(want) || time.Now().After(deadline) {
				break
			}
		}
		if len(msgs) != len(want) || len(want) < atLeast {
			t.Fatalf("syslog receiver has %d messages, %d events are integrated, want at least %d", len(msgs), len(want), atLeast)
		}
		next := map[string]uint64{}
		for i, m := range msgs {
			sd := sdPattern.FindStringSubmatch(m)
			if sd == nil || !strings.HasPrefix(m, "<10") {
				t.Fatalf("message %d is not an audit message: %q", i, m)
			}
			log, index, seq := sd[1]+"/"+sd[2], sd[3], sd[4]
			d := want[i]
			if log != d.Log.String() || index != strconv.FormatUint(d.Index, 10) || seq != strconv.FormatUint(d.Seq, 10) || sd[5] != string(d.Record) {
				t.Fatalf("message %d is %s #%s seq %s; want %s #%d seq %d", i, log, index, seq, d.Log, d.Index, d.Seq)
			}
			if index != strconv.FormatUint(next[log], 10) {
				t.Fatalf("message %d: %s index %s follows %d: a gap", i, log, index, next[log])
			}
			next[log]++
		}
		return want
	}

	failBootstrap(3)
	first := checkSyslog(3)

	// The receiver goes down; events go on being recorded, and requests
	// do not wait for it.
	recv.Stop()
	began := time.Now()
	failBootstrap(4)
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("requests took %s while the syslog receiver was down", d)
	}
	time.Sleep(700 * time.Millisecond) // integrated, and a failed attempt or two
	recv.Restart(t)
	more := checkSyslog(len(first) + 4)

	// The webhook receiver got the same stream, signed.
	evs := hooks.wait(t, len(more))
	if len(evs) != len(more) {
		t.Fatalf("webhook receiver got %d events, want %d", len(evs), len(more))
	}
	for i, ev := range evs {
		d := more[i]
		if ev.Type != "audit.event" || ev.ID != "audit-"+strconv.FormatUint(d.Seq, 10) || ev.Data["seq"] != strconv.FormatUint(d.Seq, 10) ||
			ev.Data["index"] != strconv.FormatUint(d.Index, 10) || ev.Data["day"] != string(d.Log.Day) || ev.Data["tenant"] != d.Log.Label() ||
			ev.Data["record"] != string(d.Record) {
			t.Fatalf("webhook event %d = %+v; want seq %d of %s #%d", i, ev, d.Seq, d.Log, d.Index)
		}
	}
}
