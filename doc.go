// Package strongroom holds the vocabulary every other Strongroom package
// shares: typed identifiers, the error type with its kinds, and the helpers
// that carry request-scoped values (principal, tenant, request ID) in a
// context.
//
// It imports only the standard library, and nothing in it holds rules or
// state: rules live in the domain packages under internal/.
package strongroom
