package api

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddr tells the network address of the client of a request, which
// sign-in checks against network allow-lists and the audit trail records.
//
// Behind a reverse proxy the connection's peer is the proxy, and the
// client's address is in the X-Forwarded-For header the proxy appends to.
// Any client can send that header too, so it is believed only from the
// configured proxies, and only as far as they wrote it (OPS-4). Other
// forwarding headers (Forwarded, X-Real-IP) are ignored: configure the
// proxy to append to X-Forwarded-For.
//
// The zero ClientAddr trusts no proxy. A ClientAddr may be used from
// several goroutines at once.
type ClientAddr struct {
	trusted []netip.Prefix
}

// NewClientAddr returns a ClientAddr that believes X-Forwarded-For from
// peers inside the trusted prefixes.
func NewClientAddr(trusted []netip.Prefix) ClientAddr {
	c := ClientAddr{trusted: make([]netip.Prefix, 0, len(trusted))}
	for _, p := range trusted {
		// Addresses are compared unmapped, so an IPv4-mapped prefix
		// becomes the IPv4 prefix it means.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.IsValid() {
			c.trusted = append(c.trusted, p.Masked())
		}
	}
	return c
}

// From returns the address of the client of r, IPv4-mapped IPv6 addresses
// unmapped and zones dropped.
//
// It is the connection's peer unless the peer is a trusted proxy. Then
// X-Forwarded-For is read from the right, past the trusted proxies, to the
// first address that is not one: the address the outermost trusted proxy
// saw. Entries left of it were written by the client or by proxies nobody
// vouches for, and are never read, so a forged entry cannot stand in for
// the client. If every entry is a trusted proxy, the left-most is the
// client. If the header is missing, or an entry that has to be read is not
// an address, the peer is the answer.
//
// It returns the zero Addr, an unknown client, if r.RemoteAddr is not an
// address, as for connections that are not TCP.
func (c ClientAddr) From(r *http.Request) netip.Addr {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok || !c.trusts(peer) {
		return peer
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		for rest := hops[i]; rest != ""; {
			var entry string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				entry, rest = rest[j+1:], rest[:j]
			} else {
				entry, rest = rest, ""
			}
			a, ok := parseAddr(entry)
			if !ok {
				return peer
			}
			if !c.trusts(a) {
				return a
			}
			client = a
		}
	}
	return client
}

func (c ClientAddr) trusts(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr parses an address as found in RemoteAddr or X-Forwarded-For:
// "192.0.2.1", "2001:db8::1", "[2001:db8::1]", or any of them with a port.
func parseAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if s, ok = strings.CutSuffix(inner, "]"); !ok {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
