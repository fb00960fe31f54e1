package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strongroom"
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
