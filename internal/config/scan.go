package config

import (
	"fmt"
	"net/url"
	"strings"

	"strongroom/internal/yamlconf"
)

// Scan configures the virus scanner every upload passes through (DAT-3).
type Scan struct {
	// Clamd is the address of the ClamAV daemon: "tcp://HOST:PORT" or
	// "unix:///PATH". Empty means no scanner: uploads are refused, as the
	// policy demands, unless Disabled says otherwise.
	Clamd string `yaml:"clamd"`
	// Timeout bounds the wait for clamd's verdict once an upload ends.
	Timeout yamlconf.Duration `yaml:"timeout"`
	// Disabled stores uploads without scanning them. It exists to measure
	// the rest of the pipeline; every object stored so is marked
	// unscanned, and the server warns at start. Never use it in service.
	Disabled bool `yaml:"disabled"`
	// MaxSize is the largest object scanned: larger uploads are refused.
	// clamd passes data beyond its StreamMaxLength, MaxFileSize and
	// MaxScanSize unexamined, so set all three to at least this.
	MaxSize string `yaml:"max_size"`
	// Rescan is how often stored objects are checked for a change of the
	// signature database, and rescanned if the profile asks for it.
	Rescan yamlconf.Duration `yaml:"rescan"`
}

// ClamdAddress splits scan.clamd into a network and an address for
// net.Dial.
func ClamdAddress(s string) (network, address string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("%q is not an address: %v", s, err)
	}
	switch u.Scheme {
	case "tcp":
		if u.Host == "" || u.Port() == "" || u.Path != "" {
			return "", "", fmt.Errorf("%q: write tcp://HOST:PORT", s)
		}
		return "tcp", u.Host, nil
	case "unix":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return "", "", fmt.Errorf("%q: write unix:///absolute/path", s)
		}
		return "unix", u.Path, nil
	}
	return "", "", fmt.Errorf("%q: use tcp://HOST:PORT or unix:///PATH", s)
}

func (c *Config) validateScan(bad func(key, format string, args ...any)) {
	if c.Scan.Clamd != "" {
		if _, _, err := ClamdAddress(c.Scan.Clamd); err != nil {
			bad("scan.clamd", "%v", err)
		}
		if c.Scan.Disabled {
			bad("scan.disabled", "scan.clamd is set too; choose one")
		}
	}
	if m, err := ParseMinFree(c.Scan.MaxSize); err != nil || m.Percent != 0 || m.Bytes == 0 {
		bad("scan.max_size", "%q is not a size such as 4000MiB", c.Scan.MaxSize)
	}
	if c.Scan.Timeout.Std() < 0 || c.Scan.Rescan.Std() < 0 {
		bad("scan.timeout", "durations may not be negative")
	}
}
