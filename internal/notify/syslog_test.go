package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"strongroom/internal/testenv"
)

func TestAppendSyslogFrame(t *testing.T) {
	m := SyslogMessage{
		Facility: 13, Severity: 4,
		Time:  time.Date(2025, 3, 4, 5, 6, 7, 890000000, time.UTC),
		MsgID: "user.sign_in",
		Data:  []SDElement{{ID: "strongroom@32473", Params: []SDParam{{"tenant", `a"b\c]d`}, {"index", "7"}}}},
		Msg:   []byte(`{"v":1}`),
	}
	got := string(AppendSyslogFrame(nil, "host one", "strongroom", m))
	msg := fmt.Sprintf(`<108>1 2025-03-04T05:06:07.890000Z hostone strongroom %d user.sign_in [strongroom@32473 tenant="a\"b\\c\]d" index="7"] {"v":1}`, os.Getpid())
	if want := fmt.Sprintf("%d %s", len(msg), msg); got != want {
		t.Errorf("AppendSyslogFrame =\n%s\nwant\n%s", got, want)
	}
}

func TestSyslogOverTLS(t *testing.T) {
	recv := testenv.StartSyslog(t)
	s, err := NewSyslog(recv.Addr, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.RootCAs, s.Timeout = recv.CA, 2*time.Second
	defer s.Close()
	ctx := context.Background()
	msgs := func(from, to int) []SyslogMessage {
		var ms []SyslogMessage
		for i := from; i < to; i++ {
			ms = append(ms, SyslogMessage{Facility: 13, Severity: 5, MsgID: "test", Msg: fmt.Appendf(nil, "message %d", i)})
		}
		return ms
	}
	wait := func(n int) []string {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got := recv.Messages(t)
			if len(got) >= n || time.Now().After(deadline) {
				return got
			}
		}
	}
	if n, err := s.Send(ctx, msgs(0, 3)); n != 3 || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	wait(3)

	// The receiver goes away: the closed connection is noticed before
	// anything is written into it, and nothing is taken as sent.
	recv.Stop()
	if n, err := s.Send(ctx, msgs(3, 5)); n != 0 || err == nil {
		t.Fatalf("Send to a stopped receiver = %d, %v; want 0 and an error", n, err)
	}
	recv.Restart(t)
	if n, err := s.Send(ctx, msgs(3, 5)); n != 2 || err != nil {
		t.Fatalf("Send after restart = %d, %v", n, err)
	}
	got := wait(5)
	if len(got) != 5 {
		t.Fatalf("received %d messages, want 5: %q", len(got), got)
	}
	for i, m := range got {
		if !strings.HasSuffix(m, fmt.Sprintf(" test - message %d", i)) || !strings.HasPrefix(m, "<109>1 - ") {
			t.Errorf("message %d = %q", i, m)
		}
	}
}

func TestSyslogRefusesUntrustedReceiver(t *testing.T) {
	recv := testenv.StartSyslog(t)
	s, err := NewSyslog(recv.Addr, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.Timeout = 2 * time.Second // system roots: the test authority is unknown
	if n, err := s.Send(context.Background(), []SyslogMessage{{Msg: []byte("secret")}}); n != 0 || err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Send to an untrusted receiver = %d, %v; want a certificate error", n, err)
	}
}
