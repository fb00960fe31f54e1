// Package ldap checks passwords against LDAP directories and Active
// Directory for the identity service: [Client] implements
// identity.Directory on github.com/go-ldap/ldap.
//
// # Security
//
// Every connection is encrypted before anything is sent: LDAPS, or plain
// LDAP upgraded with StartTLS, which must succeed. The server's certificate
// is checked against the directory's CA certificates (the system's when
// none are configured) and its host name, with TLS 1.2 at least. A person's
// password is only ever sent in a simple bind as their own entry, never
// empty (an empty simple bind is an anonymous bind, which would succeed),
// and the name they typed reaches the directory only escaped into the user
// filter.
//
// # Connections
//
// Each call uses a connection of its own, closed before it returns, with
// one deadline for the whole exchange: sign-ins are rare enough that a pool
// would only keep service-account sessions open for nothing.
package ldap

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"strongroom"
	"strongroom/internal/identity"
)

// Client talks to directories. Its methods may be called from several
// goroutines at once.
type Client struct {
	// Timeout bounds each call, from dialling to the last answer. If 0,
	// 10 seconds.
	Timeout time.Duration

	log *slog.Logger
}

// New returns a Client reporting to logger.
func New(logger *slog.Logger) *Client { return &Client{log: logger} }

const (
	defaultTimeout = 10 * time.Second
	// maxGroups bounds the groups read for one person; beyond it the
	// search fails rather than give a partial, and so wrong, answer.
	maxGroups = 10000
)

// Authenticate implements identity.Directory.
func (c *Client) Authenticate(ctx context.Context, conf *identity.DirectoryConfig, name, password string) (*identity.DirectoryEntry, error) {
	const op = "ldap.Authenticate"
	if password == "" || name == "" {
		// An empty password would make the bind anonymous.
		return nil, strongroom.E(op, strongroom.Unauthenticated, "the password is empty")
	}
	conn, err := c.connect(ctx, op, conf)
	if err != nil {
		return nil, err
	}
	defer conn.close()

	if err := conn.bindService(op); err != nil {
		return nil, err
	}
	filter := strings.Replace(conf.UserFilter, "%s", goldap.EscapeFilter(name), 1)
	attrs := []string{"mail"}
	if conf.GroupMembership == identity.MembershipMemberOf {
		attrs = append(attrs, "memberOf")
	}
	res, err := conn.Search(goldap.NewSearchRequest(conf.UserBaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		2, conn.timeLimit(), false, filter, attrs, nil))
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || err == nil && len(res.Entries) > 1:
		c.log.WarnContext(ctx, "directory user filter matches more than one entry; refusing the sign-in", "url", conf.URL, "filter", filter)
		return nil, strongroom.E(op, strongroom.NotFound, "more than one directory entry matches the name")
	case err != nil:
		return nil, conn.unavailable(op, fmt.Sprintf("search of %s for %s failed", conf.UserBaseDN, filter), err)
	case len(res.Entries) == 0:
		return nil, strongroom.E(op, strongroom.NotFound, "no directory entry matches the name")
	}
	entry := res.Entries[0]

	if err := conn.Bind(entry.DN, password); err != nil {
		if refused(err) {
			return nil, strongroom.E(op, strongroom.Unauthenticated, "the directory refused the password", err)
		}
		return nil, conn.unavailable(op, "bind as "+entry.DN+" failed", err)
	}
	e := &identity.DirectoryEntry{DN: entry.DN, Email: entry.GetAttributeValue("mail")}
	if conf.GroupMembership == identity.MembershipMemberOf {
		for _, dn := range entry.GetAttributeValues("memberOf") {
			e.Groups = append(e.Groups, identity.DirectoryGroup{DN: dn, Name: commonName(dn)})
		}
		return e, nil
	}

	// The person may not read groups; the service account may.
	if err := conn.bindService(op); err != nil {
		return nil, err
	}
	value := entry.DN
	if conf.GroupMembership == identity.MembershipMemberUID {
		value = name
	}
	filter = fmt.Sprintf("(%s=%s)", conf.GroupMembership, goldap.EscapeFilter(value))
	res, err = conn.Search(goldap.NewSearchRequest(conf.GroupBaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		maxGroups, conn.timeLimit(), false, filter, []string{"cn"}, nil))
	if err != nil {
		return nil, conn.unavailable(op, fmt.Sprintf("search of %s for %s failed", conf.GroupBaseDN, filter), err)
	}
	for _, g := range res.Entries {
		n := g.GetAttributeValue("cn")
		if n == "" {
			n = commonName(g.DN)
		}
		e.Groups = append(e.Groups, identity.DirectoryGroup{DN: g.DN, Name: n})
	}
	return e, nil
}

// Test implements identity.Directory.
func (c *Client) Test(ctx context.Context, conf *identity.DirectoryConfig) error {
	const op = "ldap.Test"
	conn, err := c.connect(ctx, op, conf)
	if err != nil {
		return err
	}
	defer conn.close()
	if err := conn.bindService(op); err != nil {
		return err
	}
	bases := []string{conf.UserBaseDN}
	if conf.GroupMembership != identity.MembershipMemberOf {
		bases = append(bases, conf.GroupBaseDN)
	}
	for _, base := range bases {
		_, err := conn.Search(goldap.NewSearchRequest(base, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
			1, conn.timeLimit(), false, "(objectClass=*)", []string{"1.1"}, nil))
		if err != nil {
			return conn.unavailable(op, fmt.Sprintf("the service account cannot read %s", base), err)
		}
	}
	return nil
}

// conn is one connection to a directory.
type conn struct {
	*goldap.Conn
	conf     *identity.DirectoryConfig
	deadline time.Time
	stop     func() bool // stops closing the connection when ctx ends
}

// connect dials conf's URL and secures the connection.
func (c *Client) connect(ctx context.Context, op string, conf *identity.DirectoryConfig) (*conn, error) {
	u, err := url.Parse(conf.URL)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("directory URL %q does not parse", conf.URL), err)
	}
	port := u.Port()
	switch {
	case u.Scheme == "ldaps" && !conf.StartTLS:
		port = cmp.Or(port, "636")
	case u.Scheme == "ldap" && conf.StartTLS:
		port = cmp.Or(port, "389")
	default:
		// identity refuses such settings; this is the last line.
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("directory URL %s without TLS: use ldaps:// or ldap:// with StartTLS", conf.URL))
	}
	tlsConf := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if conf.CACert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(conf.CACert)) {
			return nil, strongroom.E(op, strongroom.Invalid, "the directory's CA certificate is not PEM")
		}
		tlsConf.RootCAs = pool
	}

	timeout := c.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	var d net.Dialer
	dialCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	raw, err := d.DialContext(dialCtx, "tcp", addr)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("cannot connect to %s: %v", conf.URL, err))
	}
	// One deadline for everything, and an end as soon as ctx ends, since
	// go-ldap takes no context.
	raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { raw.Close() })

	var lc *goldap.Conn
	if conf.StartTLS {
		lc = goldap.NewConn(raw, false)
		lc.Start()
		if err := lc.StartTLS(tlsConf); err != nil {
			stop()
			lc.Close()
			return nil, strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("StartTLS with %s failed: %s", conf.URL, describe(err)))
		}
	} else {
		tc := tls.Client(raw, tlsConf)
		if err := tc.HandshakeContext(dialCtx); err != nil {
			stop()
			raw.Close()
			return nil, strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("TLS handshake with %s failed: %v", conf.URL, err))
		}
		lc = goldap.NewConn(tc, true)
		lc.Start()
	}
	if _, ok := lc.TLSConnectionState(); !ok {
		stop()
		lc.Close()
		return nil, strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("the connection to %s is not encrypted", conf.URL))
	}
	lc.SetTimeout(time.Until(deadline))
	return &conn{Conn: lc, conf: conf, deadline: deadline, stop: stop}, nil
}

func (c *conn) close() {
	c.stop()
	c.Close()
}

// bindService binds as the directory's service account.
func (c *conn) bindService(op string) error {
	if c.conf.BindPassword == "" {
		return strongroom.E(op, strongroom.Unavailable, "the service account has no password")
	}
	if err := c.Bind(c.conf.BindDN, c.conf.BindPassword); err != nil {
		if refused(err) {
			return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("the directory refused the service account %s: check its DN and password", c.conf.BindDN))
		}
		return c.unavailable(op, "bind as the service account failed", err)
	}
	return nil
}

// timeLimit is the server-side time limit of a search, in seconds.
func (c *conn) timeLimit() int {
	return max(1, int(time.Until(c.deadline).Seconds()))
}

// unavailable reports a failed exchange with the directory. The message
// holds the cause, for the administrator who tests the settings.
func (c *conn) unavailable(op, what string, err error) error {
	return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("%s: %s: %s", c.conf.URL, what, describe(err)))
}

// refused reports whether the directory refused a bind for its
// credentials, rather than failing. Active Directory answers a disabled,
// expired or locked account with invalid credentials too.
func refused(err error) bool {
	return goldap.IsErrorAnyOf(err, goldap.LDAPResultInvalidCredentials, goldap.LDAPResultInappropriateAuthentication,
		goldap.LDAPResultUnwillingToPerform, goldap.LDAPResultInsufficientAccessRights, goldap.ErrorEmptyPassword)
}

// describe says what went wrong in err: for an answer of the server, its
// result code and diagnostic message; for a failure of the connection, the
// cause.
func describe(err error) string {
	var le *goldap.Error
	if !errors.As(err, &le) {
		return err.Error()
	}
	var cause string
	if le.Err != nil {
		cause = le.Err.Error()
	}
	if le.ResultCode >= goldap.ErrorNetwork && cause != "" {
		return cause
	}
	msg := fmt.Sprintf("LDAP result %d (%s)", le.ResultCode, goldap.LDAPResultCodeMap[le.ResultCode])
	if cause != "" {
		msg += ": " + cause
	}
	return msg
}

// commonName returns the value of the first RDN of dn, which for a group
// is its cn.
func commonName(dn string) string {
	parsed, err := goldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return ""
	}
	return parsed.RDNs[0].Attributes[0].Value
}
