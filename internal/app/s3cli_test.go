package app

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"strongroom/internal/identity"
	"strongroom/internal/testenv"
)

// s3Tool runs a real S3 client (aws-cli or rclone) against a server.
type s3Tool struct {
	t    *testing.T
	name string
	bin  string
	env  []string
	args []string // before the command's own
}

func (c *s3Tool) run(args ...string) (string, error) {
	c.t.Helper()
	cmd := exec.Command(c.bin, append(append([]string{}, c.args...), args...)...)
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *s3Tool) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", c.name, strings.Join(args, " "), err, out)
	}
	return out
}

func lookTool(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s is not installed: the S3 client tests need it; install the Debian package %s (apt-get install -y %s)", bin, pkg, pkg)
	}
	return p
}

func awsCLI(t *testing.T, ta *testApp, u *s3User) *s3Tool {
	home := t.TempDir()
	return &s3Tool{t: t, name: "aws", bin: lookTool(t, "aws", "awscli"),
		env: []string{
			"HOME=" + home, "PATH=" + os.Getenv("PATH"),
			"AWS_ACCESS_KEY_ID=" + u.key, "AWS_SECRET_ACCESS_KEY=" + u.secret,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CA_BUNDLE=" + layout{ta.cfg.Data}.tlsCert(),
			"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
			"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
		},
		args: []string{"--endpoint-url", "https://" + ta.Addr("https")},
	}
}

func rclone(t *testing.T, ta *testApp, u *s3User) *s3Tool {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, "rclone.conf"), nil) // the remote comes from the environment
	return &s3Tool{t: t, name: "rclone", bin: lookTool(t, "rclone", "rclone"),
		env: []string{
			"HOME=" + home, "PATH=" + os.Getenv("PATH"),
			"RCLONE_CONFIG=" + filepath.Join(home, "rclone.conf"),
			"RCLONE_CONFIG_SR_TYPE=s3", "RCLONE_CONFIG_SR_PROVIDER=Other",
			"RCLONE_CONFIG_SR_ENDPOINT=https://" + ta.Addr("https"),
			"RCLONE_CONFIG_SR_ACCESS_KEY_ID=" + u.key, "RCLONE_CONFIG_SR_SECRET_ACCESS_KEY=" + u.secret,
			"RCLONE_CONFIG_SR_REGION=us-east-1",
		},
		args: []string{"--ca-cert", layout{ta.cfg.Data}.tlsCert(), "--retries", "1", "--low-level-retries", "1"},
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(x) != sha256.Sum256(y) {
		t.Errorf("%s and %s differ (%d and %d bytes)", a, b, len(x), len(y))
	}
}

// TestS3WithAWSCLIAndRclone drives the server with the two most used S3
// clients, unchanged: make-bucket, copy, list, sync, a 100 MiB multipart
// upload, ranged download, delete; EICAR refused through each; uploads
// refused with 503 while clamd is down.
func TestS3WithAWSCLIAndRclone(t *testing.T) {
	ta, clam := s3App(t)
	u := newS3User(t, ta, "acme", "carol", identity.RoleMember)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	writeFile(t, big, randomBytes(100<<20, 42))
	small := filepath.Join(dir, "tree", "a.txt")
	writeFile(t, small, []byte("first file\n"))
	writeFile(t, filepath.Join(dir, "tree", "sub", "b.txt"), randomBytes(70<<10, 7))
	writeFile(t, filepath.Join(dir, "tree", "sub", "c.txt"), []byte("third\n"))
	eicar := filepath.Join(dir, "eicar.com")
	writeFile(t, eicar, testenv.EICAR())

	t.Run("aws-cli", func(t *testing.T) {
		aws := awsCLI(t, ta, u)
		aws.must("s3", "mb", "s3://aws-bucket")
		aws.must("s3", "cp", big, "s3://aws-bucket/big.bin")
		aws.must("s3", "cp", small, "s3://aws-bucket/a.txt")
		aws.must("s3", "sync", filepath.Join(dir, "tree"), "s3://aws-bucket/tree")
		ls := aws.must("s3", "ls", "--recursive", "s3://aws-bucket")
		for _, want := range []string{"big.bin", "a.txt", "tree/a.txt", "tree/sub/b.txt", "tree/sub/c.txt"} {
			if !strings.Contains(ls, want) {
				t.Errorf("aws s3 ls lacks %s:\n%s", want, ls)
			}
		}
		if !strings.Contains(ls, fmt.Sprint(100<<20)) {
			t.Errorf("aws s3 ls does not show the 100 MiB size:\n%s", ls)
		}
		// A second sync has nothing to do.
		if out := aws.must("s3", "sync", filepath.Join(dir, "tree"), "s3://aws-bucket/tree"); strings.Contains(out, "upload:") {
			t.Errorf("second sync uploaded again:\n%s", out)
		}
		got := filepath.Join(t.TempDir(), "big.bin")
		aws.must("s3", "cp", "s3://aws-bucket/big.bin", got)
		sameFile(t, big, got)
		part := filepath.Join(t.TempDir(), "part")
		aws.must("s3api", "get-object", "--bucket", "aws-bucket", "--key", "big.bin", "--range", "bytes=1048570-1048699", part)
		b, _ := os.ReadFile(part)
		whole, _ := os.ReadFile(big)
		if !bytes.Equal(b, whole[1048570:1048700]) {
			t.Errorf("ranged get-object returned %d bytes that differ", len(b))
		}
		out, err := aws.run("s3", "cp", eicar, "s3://aws-bucket/eicar.com")
		if err == nil || !strings.Contains(out, "AccessDenied") || !strings.Contains(out, "malware") {
			t.Errorf("aws s3 cp EICAR = %v:\n%s\nwant AccessDenied naming malware", err, out)
		}
		aws.must("s3", "rm", "s3://aws-bucket/a.txt")
		aws.must("s3", "rm", "--recursive", "s3://aws-bucket/tree")
		if ls := aws.must("s3", "ls", "--recursive", "s3://aws-bucket"); strings.Contains(ls, "a.txt") || strings.Contains(ls, "eicar") || !strings.Contains(ls, "big.bin") {
			t.Errorf("after deletes:\n%s", ls)
		}
	})

	t.Run("rclone", func(t *testing.T) {
		rc := rclone(t, ta, u)
		rc.must("mkdir", "sr:rclone-bucket")
		rc.must("copyto", big, "sr:rclone-bucket/big.bin")
		rc.must("sync", filepath.Join(dir, "tree"), "sr:rclone-bucket/tree")
		// rclone compares sizes and MD5 sums (the ETags) of every file.
		rc.must("check", filepath.Join(dir, "tree"), "sr:rclone-bucket/tree")
		ls := rc.must("ls", "sr:rclone-bucket")
		for _, want := range []string{"big.bin", "tree/a.txt", "tree/sub/b.txt"} {
			if !strings.Contains(ls, want) {
				t.Errorf("rclone ls lacks %s:\n%s", want, ls)
			}
		}
		got := filepath.Join(t.TempDir(), "big.bin")
		rc.must("copyto", "sr:rclone-bucket/big.bin", got)
		sameFile(t, big, got)
		out := rc.must("cat", "--offset", "5000000", "--count", "64", "sr:rclone-bucket/big.bin")
		whole, _ := os.ReadFile(big)
		if out != string(whole[5000000:5000064]) {
			t.Errorf("rclone cat of a range differs: got %d bytes %x, want %x", len(out), out[:min(len(out), 80)], whole[5000000:5000064])
		}
		if out, err := rc.run("copyto", eicar, "sr:rclone-bucket/eicar.com"); err == nil {
			t.Errorf("rclone copyto EICAR succeeded:\n%s", out)
		} else if !strings.Contains(out, "AccessDenied") {
			t.Errorf("rclone copyto EICAR failed without AccessDenied:\n%s", out)
		}
		rc.must("delete", "sr:rclone-bucket/tree")
		if ls := rc.must("ls", "sr:rclone-bucket"); strings.Contains(ls, "tree/") || strings.Contains(ls, "eicar") {
			t.Errorf("after delete:\n%s", ls)
		}
	})

	t.Run("scanner down", func(t *testing.T) {
		clam.Stop(t)
		aws := awsCLI(t, ta, u)
		out, err := aws.run("s3", "cp", small, "s3://aws-bucket/while-down.txt")
		if err == nil || !strings.Contains(out, "503") && !strings.Contains(out, "ServiceUnavailable") {
			t.Errorf("aws s3 cp with clamd down = %v:\n%s\nwant 503 ServiceUnavailable", err, out)
		}
		rc := rclone(t, ta, u)
		out, err = rc.run("copyto", small, "sr:rclone-bucket/while-down.txt")
		if err == nil || !strings.Contains(out, "503") && !strings.Contains(out, "ServiceUnavailable") {
			t.Errorf("rclone copyto with clamd down = %v:\n%s\nwant 503", err, out)
		}
		if ls := aws.must("s3", "ls", "--recursive", "s3://aws-bucket"); strings.Contains(ls, "while-down") {
			t.Errorf("an upload made while the scanner was down is listed:\n%s", ls)
		}
	})
}
