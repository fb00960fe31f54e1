package api

import (
	"testing"
	"time"

	"strongroom"
)

func TestProjectSettingsRequest(t *testing.T) {
	str := func(s string) *string { return &s }
	dur := func(d time.Duration) *time.Duration { return &d }
	day := 24 * time.Hour
	for _, c := range []struct {
		name            string
		req             ProjectSettingsRequest
		retention, lock *time.Duration
		invalid         bool
	}{
		{"days and weeks", ProjectSettingsRequest{Retention: str("90d"), Lock: str("1w")}, dur(90 * day), dur(7 * day), false},
		{"Go durations", ProjectSettingsRequest{Retention: str("720h"), Lock: str("24h")}, dur(720 * time.Hour), dur(24 * time.Hour), false},
		{"retention alone", ProjectSettingsRequest{Retention: str("0s")}, dur(0), nil, false},
		{"lock alone", ProjectSettingsRequest{Lock: str("30m")}, nil, dur(30 * time.Minute), false},
		{"nothing", ProjectSettingsRequest{}, nil, nil, true},
		{"no unit", ProjectSettingsRequest{Retention: str("90")}, nil, nil, true},
		{"negative", ProjectSettingsRequest{Lock: str("-1h")}, nil, nil, true},
		{"not a duration", ProjectSettingsRequest{Lock: str("forever")}, nil, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			set, err := c.req.settings()
			if c.invalid {
				if !strongroom.Is(err, strongroom.Invalid) {
					t.Errorf("settings() = %v, want Invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("settings() = %v", err)
			}
			same := func(a, b *time.Duration) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
			if !same(set.Retention, c.retention) || !same(set.Lock, c.lock) {
				t.Errorf("settings() = retention %v lock %v, want %v %v", set.Retention, set.Lock, c.retention, c.lock)
			}
		})
	}
}
