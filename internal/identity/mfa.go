package identity

// mfaTx is the storage multi-factor authentication needs.
type mfaTx interface{}
