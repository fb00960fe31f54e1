package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/rogpeppe/go-internal/testscript"

	"strongroom/internal/app"
	"strongroom/internal/config"
)

// TestServerScripts runs the client commands in testdata/server/*.txt
// against a real server started for each script on loopback. Each script
// gets $SERVER, $DATA (the server's data directory), $TOKENFILE (the
// bootstrap token) and SSL_CERT_FILE trusting the server's certificate.
func TestServerScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/server",
		Setup: func(e *testscript.Env) error {
			cfg := config.Default()
			cfg.Data = filepath.Join(e.WorkDir, "data")
			cfg.HTTP.Addr, cfg.Metrics.Addr, cfg.SFTP.Addr = "127.0.0.1:0", "", ""
			var out bytes.Buffer
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			a, err := app.New(context.Background(), cfg, log, app.Options{Out: &out})
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			e.Defer(func() {
				cancel()
				<-done
				a.Close()
			})
			token := regexp.MustCompile(`srboot_[a-z2-7]+`).FindString(out.String())
			tokenFile := filepath.Join(e.WorkDir, "token")
			if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
				return err
			}
			e.Setenv("SERVER", a.PublicURL())
			e.Setenv("DATA", cfg.Data)
			e.Setenv("TOKENFILE", tokenFile)
			e.Setenv("SSL_CERT_FILE", filepath.Join(cfg.Data, "tls", "cert.pem"))
			e.Setenv("STRONGROOM_CONFIG_DIR", filepath.Join(e.WorkDir, "config"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// jsonenv VAR FILE PATH sets VAR to the value at PATH (dot
			// separated, numbers index arrays) of the JSON in FILE.
			"jsonenv": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: jsonenv VAR FILE PATH")
				}
				var v any
				ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &v))
				for _, k := range strings.Split(args[2], ".") {
					switch x := v.(type) {
					case map[string]any:
						v = x[k]
					case []any:
						i, err := strconv.Atoi(k)
						ts.Check(err)
						v = x[i]
					}
				}
				ts.Setenv(args[0], fmt.Sprint(v))
			},
			// totpenv VAR SECRET sets VAR to the current TOTP code.
			"totpenv": func(ts *testscript.TestScript, neg bool, args []string) {
				code, err := totp.GenerateCode(args[1], time.Now())
				ts.Check(err)
				ts.Setenv(args[0], code)
			},
		},
	})
}
