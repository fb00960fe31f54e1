package strongroom

// Distinct types for identifiers keep a user ID from being passed where a
// tenant ID is expected. Identifiers are opaque strings chosen by the store.
type (
	// TenantID identifies an organisation.
	TenantID string
	// UserID identifies one person; IDs are never shared or reused (IAM-1).
	UserID string
	// GroupID identifies a group of users within one tenant.
	GroupID string
	// RequestID identifies one request in logs, errors and the audit trail.
	RequestID string
)

// DefaultTenant is the name of the tenant that init creates.
const DefaultTenant = "default"
