package config

import (
	"strings"
	"testing"
	"time"
)

func TestSFTPSettings(t *testing.T) {
	if d := Default().SFTP; d.Addr != "127.0.0.1:2222" || d.IdleTimeout.Std() != 15*time.Minute {
		t.Errorf("Default().SFTP = %+v; want 127.0.0.1:2222, 15m", d)
	}
	file := writeFile(t, "strongroom.yaml", "sftp:\n  addr: 0.0.0.0:22\n  idle_timeout: 5m\n")
	c, err := Load(file, []string{"STRONGROOM_SFTP_IDLE_TIMEOUT=10m"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.SFTP.Addr != "0.0.0.0:22" || c.SFTP.IdleTimeout.Std() != 10*time.Minute {
		t.Errorf("SFTP = %+v; want 0.0.0.0:22 from the file, 10m from the environment", c.SFTP)
	}

	for _, tc := range []struct {
		name string
		set  map[string]string
		want []string // "" for valid
	}{
		{"off", map[string]string{"sftp.addr": ""}, nil},
		{"free port", map[string]string{"sftp.addr": "127.0.0.1:0", "http.addr": "127.0.0.1:0"}, nil},
		{"no idle timeout", map[string]string{"sftp.idle_timeout": "0s"}, nil},
		{"not host:port", map[string]string{"sftp.addr": "localhost"}, []string{"sftp.addr", "host:port"}},
		{"host name", map[string]string{"sftp.addr": "sftp.example.com:22"}, []string{"sftp.addr", "IP address"}},
		{"same as https", map[string]string{"sftp.addr": "127.0.0.1:8443"}, []string{"sftp.addr", "must differ from http.addr"}},
		{"same as metrics", map[string]string{"sftp.addr": "127.0.0.1:9464"}, []string{"sftp.addr", "must differ from metrics.addr"}},
		{"idle timeout too short", map[string]string{"sftp.idle_timeout": "10ms"}, []string{"sftp.idle_timeout", "at least 1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			for k, v := range tc.set {
				if err := c.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v; want %q in it", err, w)
				}
			}
		})
	}
}
