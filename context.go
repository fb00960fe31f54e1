package strongroom

import (
	"context"
	"net/netip"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	principalKey
	clientKey
)

// Principal is the authenticated caller of a request.
type Principal struct {
	User     UserID
	Tenant   TenantID
	Name     string
	Role     string // the user's role in its tenant: member, admin or auditor
	Operator bool   // platform administrator
}

// Client describes where a request came from, as the transport established
// it: the address is the socket's peer unless that peer is a configured
// trusted proxy (OPS-4).
type Client struct {
	Addr      netip.Addr
	UserAgent string
	Protocol  string // "https", "s3", "sftp", "cli"
}

// WithClient returns a context carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey, c)
}

// ClientFrom returns the client in ctx, or the zero Client.
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey).(Client)
	return c
}

// WithRequestID returns a context carrying id.
func WithRequestID(ctx context.Context, id RequestID) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFrom returns the request ID in ctx, or "".
func RequestIDFrom(ctx context.Context) RequestID {
	id, _ := ctx.Value(requestIDKey).(RequestID)
	return id
}

// WithPrincipal returns a context carrying p as the authenticated caller.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom returns the authenticated caller in ctx, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}
