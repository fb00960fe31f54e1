package identity

// sessionTx is the storage sign-in needs: password history, failure
// counting for lockout, and server-side sessions.
type sessionTx interface{}
