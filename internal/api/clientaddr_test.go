package api

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string // X-Forwarded-For lines
		want    string   // "" for the zero Addr
	}{
		{"no proxy configured", nil, "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"untrusted peer's header ignored", proxies, "203.0.113.7:5000", []string{"10.1.1.1"}, "203.0.113.7"},
		{"trusted proxy's header used", proxies, "10.0.0.2:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted proxy without header", proxies, "10.0.0.2:443", nil, "10.0.0.2"},
		{"spoofed left-most entry", proxies, "10.0.0.2:443", []string{"10.9.9.9, 198.51.100.1, 10.0.0.3"}, "198.51.100.1"},
		{"spoofed entries in earlier lines", proxies, "10.0.0.2:443", []string{"10.9.9.9", "192.0.2.66, 198.51.100.1", "10.0.0.3"}, "198.51.100.1"},
		{"garbage left of the client", proxies, "10.0.0.2:443", []string{"not an address, 198.51.100.1"}, "198.51.100.1"},
		{"malformed right-most entry", proxies, "10.0.0.2:443", []string{"198.51.100.1, bogus"}, "10.0.0.2"},
		{"empty entry", proxies, "10.0.0.2:443", []string{"198.51.100.1,"}, "10.0.0.2"},
		{"host name", proxies, "10.0.0.2:443", []string{"client.example"}, "10.0.0.2"},
		{"every hop trusted", proxies, "10.0.0.2:443", []string{"10.0.0.5, 10.0.0.4"}, "10.0.0.5"},
		{"entry with port", proxies, "10.0.0.2:443", []string{"198.51.100.1:61000"}, "198.51.100.1"},
		{"IPv6 entries", proxies, "[2001:db8:ffff::1]:443", []string{"2001:db8:1::9, [2001:db8:ffff::2]"}, "2001:db8:1::9"},
		{"bracketed IPv6 with port", proxies, "[2001:db8:ffff::1]:443", []string{"[2001:db8:1::9]:61000"}, "2001:db8:1::9"},
		{"unbalanced bracket", proxies, "10.0.0.2:443", []string{"[2001:db8:1::9"}, "10.0.0.2"},
		{"IPv4-mapped peer", proxies, "[::ffff:10.0.0.2]:443", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped untrusted peer", proxies, "[::ffff:203.0.113.7]:443", []string{"198.51.100.1"}, "203.0.113.7"},
		{"IPv4-mapped trusted prefix", []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}, "10.0.0.2:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"zone dropped", proxies, "[fe80::1%eth0]:443", nil, "fe80::1"},
		{"peer without port", proxies, "203.0.113.7", nil, "203.0.113.7"},
		{"peer not an address", proxies, "@", []string{"198.51.100.1"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got := NewClientAddr(tt.trusted).From(r); got != want {
				t.Errorf("From(RemoteAddr %q, X-Forwarded-For %q) = %v, want %v", tt.remote, tt.xff, got, want)
			}
		})
	}
}

func TestClientAddrZero(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:443"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got, want := (ClientAddr{}).From(r), netip.MustParseAddr("10.0.0.2"); got != want {
		t.Errorf("ClientAddr{}.From = %v, want the peer %v", got, want)
	}
}
