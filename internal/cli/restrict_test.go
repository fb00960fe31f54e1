package cli

import (
	"reflect"
	"strings"
	"testing"

	"strongroom/internal/api"
)

func TestParseHours(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []api.TimeBandView
		err  string
	}{
		{"mon-fri 08:00-18:00 Europe/London", []api.TimeBandView{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: "08:00-18:00", TimeZone: "Europe/London"}}, ""},
		{"sat,sun 10:00-12:00; all 22:00-06:00 UTC", []api.TimeBandView{
			{Days: []string{"sat", "sun"}, Hours: "10:00-12:00"},
			{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Hours: "22:00-06:00", TimeZone: "UTC"}}, ""},
		{"", nil, ""},
		{"fri-mon 08:00-09:00", nil, "not a day"},
		{"someday 08:00-09:00", nil, "not a day"},
		{"mon", nil, "want DAYS HH:MM-HH:MM"},
	} {
		got, err := parseHours(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseHours(%q) error = %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseHours(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}
