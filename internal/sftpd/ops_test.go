package sftpd

import (
	"slices"
	"testing"
)

// TestOperationsCoverHandlers (ACC-1): every SFTP method the tree answers
// has an operation in the table the authorisation matrix is generated
// from, and every operation names a method the tree answers and either
// the actions decided or that it is refused.
func TestOperationsCoverHandlers(t *testing.T) {
	answered := []string{"Get", "Put", "PosixRename", "Lstat"} // methods of their own interfaces
	for m := range cmdHandlers {
		answered = append(answered, m)
	}
	for m := range listHandlers {
		answered = append(answered, m)
	}
	var listed []string
	for _, op := range Operations() {
		listed = append(listed, op.Method)
		if !slices.Contains(answered, op.Method) {
			t.Errorf("operation %s %s: the tree answers no such method", op.Method, op.Path)
		}
		if op.Refused == (len(op.Actions) > 0) {
			t.Errorf("operation %s %s: give the actions decided, or mark it refused", op.Method, op.Path)
		}
	}
	for _, m := range answered {
		if !slices.Contains(listed, m) {
			t.Errorf("the tree answers %s, which has no operation: add it with the actions the objects service decides", m)
		}
	}
}
