package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strongroom"
	"strongroom/internal/audit"
)

// An error the server attributes to a clause names it once, whatever the
// server's message already says.
func TestClientErrorNamesClauseOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":{"code":"permission_denied","message":"object lock cannot be shortened (DAT-4)","clause":"DAT-4"}}`))
	}))
	defer srv.Close()
	err := (&Client{BaseURL: srv.URL, HTTP: srv.Client()}).Do(context.Background(), "GET", "/api/v1/x", nil, nil, nil)
	if !strongroom.Is(err, strongroom.Permission) {
		t.Fatalf("Do = %v, want Permission", err)
	}
	if n := strings.Count(err.Error(), "DAT-4"); n != 1 {
		t.Errorf("error %q names the clause %d times, want once", err, n)
	}
}

// An open day grows while a verifier reads it: entries past the size the
// day was listed with are left for the next verification rather than
// counted against the older checkpoint (AUD-4).
func TestAuditSourceStopsAtListedSize(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b []byte
		for i := range uint64(3) {
			b = audit.AppendEntry(b, &audit.Entry{Seq: i + 1, Index: i, LeafHash: make([]byte, 32), Record: []byte(`{}`)})
		}
		w.Write(b)
	}))
	defer srv.Close()
	src := &AuditSource{Client: &Client{BaseURL: srv.URL, HTTP: srv.Client()}}
	for _, tt := range []struct {
		l    *audit.DayLog
		want int
	}{
		{&audit.DayLog{LogID: audit.LogID{Day: "2026-11-24"}, Size: 2}, 2},
		{&audit.DayLog{LogID: audit.LogID{Day: "2026-11-23"}, Size: 2, Seal: []byte("sealed")}, 3}, // a sealed day never grows: all of it is checked
	} {
		n := 0
		if err := src.Entries(context.Background(), tt.l, func(*audit.Entry) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != tt.want {
			t.Errorf("day %s (sealed %v): %d entries, want %d", tt.l.Day, tt.l.Sealed(), n, tt.want)
		}
	}
}
