package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run "strongroom" in a subprocess made from this
// test binary, exactly as cmd/strongroom runs it.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"strongroom": func() {
			os.Exit(Main(context.Background(), os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Environ()))
		},
	})
}

// TestScripts runs the command-line behaviour described in testdata/*.txt.
func TestScripts(t *testing.T) {
	policies, err := filepath.Abs("../../policies")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Setenv("POLICIES", policies)
			return nil
		},
	})
}
