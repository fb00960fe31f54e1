package config

import (
	"time"

	"strongroom/internal/yamlconf"
)

// SFTP configures the SSH listener that serves SFTP (DAT-6). The
// algorithms it offers come from the policy profile (ssh), its host key
// from the data directory.
type SFTP struct {
	// Addr is the listen address, e.g. 0.0.0.0:22 (binding a port below
	// 1024 needs the right to); empty turns SFTP off.
	Addr string `yaml:"addr"`
	// IdleTimeout closes a connection whose client has sent nothing for
	// this long; 0 leaves it to the profile's session idle timeout, which
	// applies in any case.
	IdleTimeout yamlconf.Duration `yaml:"idle_timeout"`
}

// defaultSFTP is the SFTP section of Default.
func defaultSFTP() SFTP {
	return SFTP{Addr: "127.0.0.1:2222", IdleTimeout: yamlconf.Duration(15 * time.Minute)}
}

func (c *Config) validateSFTP(bad func(key, format string, args ...any)) {
	s := c.SFTP
	if err := checkAddr(s.Addr, true); err != nil {
		bad("sftp.addr", "%v", err)
	}
	for _, other := range []struct{ key, addr string }{
		{"http.addr", c.HTTP.Addr}, {"http.redirect_addr", c.HTTP.RedirectAddr}, {"metrics.addr", c.Metrics.Addr},
	} {
		if sameListener(s.Addr, other.addr) {
			bad("sftp.addr", "must differ from %s (%s)", other.key, other.addr)
		}
	}
	if d := s.IdleTimeout.Std(); d < 0 || d > 0 && d < time.Second {
		bad("sftp.idle_timeout", "%s is too short; use at least 1s, or 0 to rely on the session idle timeout", s.IdleTimeout)
	}
}
