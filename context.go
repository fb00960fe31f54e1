package strongroom

import "context"

type ctxKey int

const (
	requestIDKey ctxKey = iota
	principalKey
)

// Principal is the authenticated caller of a request.
type Principal struct {
	User   UserID
	Tenant TenantID
	Name   string
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
