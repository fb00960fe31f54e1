package identity

// accessKeyTx is the storage access keys need.
type accessKeyTx interface{}
