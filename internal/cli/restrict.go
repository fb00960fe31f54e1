package cli

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"strongroom"
	"strongroom/internal/api"
)

var dayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// parseHours reads --hours: bands separated by ';', each "DAYS HH:MM-HH:MM
// [TIME_ZONE]" where DAYS is a range (mon-fri), a list (mon,wed,fri), a
// single day, or "all". Example: "mon-fri 08:00-18:00 Europe/London".
func parseHours(spec string) ([]api.TimeBandView, error) {
	var bands []api.TimeBandView
	for _, part := range strings.Split(spec, ";") {
		fields := strings.Fields(part)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 || len(fields) > 3 {
			return nil, fmt.Errorf("time band %q: want DAYS HH:MM-HH:MM [TIME_ZONE], e.g. \"mon-fri 08:00-18:00 Europe/London\"", strings.TrimSpace(part))
		}
		days, err := parseDays(strings.ToLower(fields[0]))
		if err != nil {
			return nil, fmt.Errorf("time band %q: %v", strings.TrimSpace(part), err)
		}
		b := api.TimeBandView{Days: days, Hours: fields[1]}
		if len(fields) == 3 {
			b.TimeZone = fields[2]
		}
		bands = append(bands, b)
	}
	return bands, nil
}

func parseDays(s string) ([]string, error) {
	if s == "all" || s == "*" {
		return dayNames, nil
	}
	index := func(d string) int {
		for i, n := range dayNames {
			if n == d {
				return i
			}
		}
		return -1
	}
	var days []string
	for _, item := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(item, "-")
		i, j := index(from), index(to)
		if !isRange {
			j = i
		}
		if i < 0 || j < 0 || j < i {
			return nil, fmt.Errorf("%q is not a day, list or range of mon, tue, wed, thu, fri, sat, sun", item)
		}
		days = append(days, dayNames[i:j+1]...)
	}
	return days, nil
}

func (e *env) setRestrictionsCommand() *cobra.Command {
	var hours, networks string
	cmd := &cobra.Command{
		Use:   "set-restrictions NAME [--hours SPEC] [--networks CIDR,...]",
		Short: "Set when and from where a user may sign in (IAM-7); an empty value clears it",
		Long: `Set when and from where a user may sign in (IAM-7).

--hours takes bands separated by ';', each "DAYS HH:MM-HH:MM [TIME_ZONE]":
  --hours "mon-fri 08:00-18:00 Europe/London; sat 09:00-12:00 Europe/London"
Without a time zone the tenant's default applies. A band may cross midnight
(22:00-06:00). --networks takes CIDR prefixes or addresses separated by commas.
Flags left out keep their current value; an empty value removes the restriction.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/api/v1/users/" + url.PathEscape(args[0]) + "/restrictions"
			var cur api.RestrictionsView
			if err := e.call(cmd.Context(), "GET", path, nil, nil, &cur); err != nil {
				return err
			}
			if cmd.Flags().Changed("hours") {
				bands, err := parseHours(hours)
				if err != nil {
					return strongroom.E("cli", strongroom.Invalid, err.Error())
				}
				cur.TimeBands = bands
			}
			if cmd.Flags().Changed("networks") {
				cur.Networks = nil
				for _, n := range strings.Split(networks, ",") {
					if n = strings.TrimSpace(n); n != "" {
						cur.Networks = append(cur.Networks, n)
					}
				}
			}
			var out api.RestrictionsView
			if err := e.call(cmd.Context(), "PUT", path, nil, cur, &out); err != nil {
				return err
			}
			return e.output(cmd, out, func(w io.Writer) {
				fmt.Fprintln(w, "HOURS\tNETWORKS")
				var hs []string
				for _, b := range out.TimeBands {
					hs = append(hs, strings.Join(b.Days, ",")+" "+b.Hours+" "+b.TimeZone)
				}
				fmt.Fprintf(w, "%s\t%s\n", orAny(strings.Join(hs, "; ")), orAny(strings.Join(out.Networks, ",")))
			})
		},
	}
	cmd.Flags().StringVar(&hours, "hours", "", "allowed time bands, e.g. \"mon-fri 08:00-18:00 Europe/London\"")
	cmd.Flags().StringVar(&networks, "networks", "", "allowed source networks, e.g. 192.0.2.0/24,2001:db8::/32")
	return cmd
}

func orAny(s string) string {
	if s == "" {
		return "any"
	}
	return s
}
