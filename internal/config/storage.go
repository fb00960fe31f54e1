package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Storage configures how the server protects the disk holding the data
// directory.
type Storage struct {
	// MinFree is the free space below which the server turns read-only
	// rather than let the disk fill and the audit trail stop (AUD-2):
	// bytes with a unit ("1GiB", "500MiB") or a share of the file system
	// ("5%"). "0" turns the guard off.
	MinFree string `yaml:"min_free"`
}

// MinFree is a parsed storage.min_free: Bytes, or Percent of the file
// system's size; zero for both turns the guard off.
type MinFree struct {
	Bytes   uint64
	Percent float64
}

// Of returns the free bytes required of a file system of total bytes.
func (m MinFree) Of(total uint64) uint64 {
	if m.Percent > 0 {
		return uint64(float64(total) * m.Percent / 100)
	}
	return m.Bytes
}

var byteUnits = []struct {
	suffix string
	size   uint64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
}

// ParseMinFree parses a storage.min_free value.
func ParseMinFree(s string) (MinFree, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v <= 0 || v >= 50 {
			return MinFree{}, fmt.Errorf("%q is not a share between 0%% and 50%%", s)
		}
		return MinFree{Percent: v}, nil
	}
	if s == "0" {
		return MinFree{}, nil
	}
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(n), 10, 64)
			if err != nil || v == 0 || v > (1<<63)/u.size {
				break
			}
			return MinFree{Bytes: v * u.size}, nil
		}
	}
	return MinFree{}, fmt.Errorf("%q is neither a size such as 1GiB or 500MB, a share such as 5%%, nor 0", s)
}
