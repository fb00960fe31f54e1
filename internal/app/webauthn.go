package app

import (
	"net"
	"strings"

	"strongroom/internal/identity"
)

// relyingParty returns the host name and origin security keys and passkeys
// are bound to (IAM-6): those of http.public_url, or else the first host
// name the TLS certificate is made for (tls.names; "localhost" by default)
// with the HTTPS port. WebAuthn refuses IP addresses, so a server known
// only by one gets no security keys, and the operator log says so.
func (a *App) relyingParty() identity.RelyingParty {
	u := a.cfg.HTTP.PublicURL
	if u == "" {
		_, port, _ := net.SplitHostPort(a.Addr("https"))
		for _, n := range a.cfg.TLS.Names {
			if net.ParseIP(n) == nil && !strings.Contains(n, "*") {
				u = "https://" + net.JoinHostPort(n, port)
				break
			}
		}
	}
	rp, err := identity.NewRelyingParty(u)
	if err != nil {
		a.log.Warn("security keys and passkeys are off: set http.public_url to an https:// URL with a host name", "public_url", u, "err", err)
		return identity.RelyingParty{}
	}
	return rp
}
