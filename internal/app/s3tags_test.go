package app

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/signer"
	"github.com/minio/minio-go/v7/pkg/tags"

	"strongroom/internal/identity"
)

// TestS3ObjectTagging (DAT-2, DAT-7): object tags set on upload, by
// PutObjectTagging, through a multipart upload and a copy are read back
// by GetObjectTagging and counted on GET; deleting them leaves none; a tag
// value that looks like a card number is refused with AccessDenied naming
// DAT-7 and changes nothing; tags breaking S3's rules get InvalidTag; the
// tags are sealed: no file of the data directory holds them in clear.
func TestS3ObjectTagging(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scan.Disabled = true
	a, out := newApp(t, cfg)
	ta := start(t, a, out)
	ctx := context.Background()
	u := newS3User(t, ta, "acme", "alice", identity.RoleMember)
	mc := minioClient(t, ta, u)
	if err := mc.MakeBucket(ctx, "tagged", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func(name string) map[string]string {
		t.Helper()
		tg, err := mc.GetObjectTagging(ctx, "tagged", name, minio.GetObjectTaggingOptions{})
		if err != nil {
			t.Fatalf("GetObjectTagging(%s): %v", name, err)
		}
		return tg.ToMap()
	}
	want := map[string]string{"classification": "confidential-zephyr", "owner": "finance team"}
	if _, err := mc.PutObject(ctx, "tagged", "q3.csv", strings.NewReader("a,b\n"), 4, minio.PutObjectOptions{UserTags: want}); err != nil {
		t.Fatal(err)
	}
	if got := get("q3.csv"); !maps.Equal(got, want) {
		t.Errorf("tags after PutObject = %v, want %v", got, want)
	}
	obj, err := mc.GetObject(ctx, "tagged", "q3.csv", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := obj.Stat(); err != nil || st.UserTagCount != 2 {
		t.Errorf("x-amz-tagging-count on GET = %d, %v; want 2", st.UserTagCount, err)
	}

	replaced, _ := tags.NewTags(map[string]string{"retention": "7y"}, true)
	if err := mc.PutObjectTagging(ctx, "tagged", "q3.csv", replaced, minio.PutObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := get("q3.csv"); !maps.Equal(got, map[string]string{"retention": "7y"}) {
		t.Errorf("tags after PutObjectTagging = %v", got)
	}
	card, _ := tags.NewTags(map[string]string{"ref": "4111 1111 1111 1111"}, true)
	err = mc.PutObjectTagging(ctx, "tagged", "q3.csv", card, minio.PutObjectTaggingOptions{})
	if s3Code(err) != "AccessDenied" || !strings.Contains(err.Error(), "DAT-7") {
		t.Errorf("a card number in a tag value: %v, want AccessDenied naming DAT-7", err)
	}
	if got := get("q3.csv"); !maps.Equal(got, map[string]string{"retention": "7y"}) {
		t.Errorf("tags after a refused PutObjectTagging = %v", got)
	}
	if _, err := mc.PutObject(ctx, "tagged", "card.txt", strings.NewReader("x"), 1, minio.PutObjectOptions{UserTags: map[string]string{"pan": "4111-1111-1111-1111"}}); s3Code(err) != "AccessDenied" {
		t.Errorf("a card number in x-amz-tagging: %v, want AccessDenied", err)
	}
	if _, err := mc.StatObject(ctx, "tagged", "card.txt", minio.StatObjectOptions{}); s3Code(err) != "NoSuchKey" {
		t.Errorf("the refused object: %v, want NoSuchKey", err)
	}

	// Tags through a multipart upload, and kept or replaced by a copy.
	big := randomBytes(6<<20, 9)
	if _, err := mc.PutObject(ctx, "tagged", "big.bin", bytes.NewReader(big), int64(len(big)), minio.PutObjectOptions{PartSize: 5 << 20, UserTags: map[string]string{"batch": "42"}}); err != nil {
		t.Fatal(err)
	}
	if got := get("big.bin"); got["batch"] != "42" || len(got) != 1 {
		t.Errorf("tags of a multipart upload = %v", got)
	}
	if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "tagged", Object: "copy.bin"}, minio.CopySrcOptions{Bucket: "tagged", Object: "big.bin"}); err != nil {
		t.Fatal(err)
	}
	if got := get("copy.bin"); got["batch"] != "42" {
		t.Errorf("tags of a copy = %v, want the source's", got)
	}
	if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "tagged", Object: "copy2.bin", UserTags: map[string]string{"stage": "2"}, ReplaceTags: true},
		minio.CopySrcOptions{Bucket: "tagged", Object: "big.bin"}); err != nil {
		t.Fatal(err)
	}
	if got := get("copy2.bin"); !maps.Equal(got, map[string]string{"stage": "2"}) {
		t.Errorf("tags of a copy with REPLACE = %v", got)
	}

	if err := mc.RemoveObjectTagging(ctx, "tagged", "q3.csv", minio.RemoveObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := get("q3.csv"); len(got) != 0 {
		t.Errorf("tags after DeleteObjectTagging = %v", got)
	}

	// What minio-go would not send: S3's rules, enforced by the server.
	base := "https://" + ta.Addr("https")
	for _, tc := range []struct{ name, body string }{
		{"eleven tags", "<Tagging><TagSet>" + strings.Repeat("<Tag><Key>k</Key><Value>v</Value></Tag>", 1) +
			func() string {
				var b strings.Builder
				for i := range 10 {
					b.WriteString("<Tag><Key>k" + string(rune('a'+i)) + "</Key><Value>v</Value></Tag>")
				}
				return b.String()
			}() + "</TagSet></Tagging>"},
		{"duplicate key", "<Tagging><TagSet><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></TagSet></Tagging>"},
		{"empty key", "<Tagging><TagSet><Tag><Key></Key><Value>1</Value></Tag></TagSet></Tagging>"},
		{"key too long", "<Tagging><TagSet><Tag><Key>" + strings.Repeat("k", 129) + "</Key><Value>1</Value></Tag></TagSet></Tagging>"},
		{"bad character", "<Tagging><TagSet><Tag><Key>k</Key><Value>a&lt;script&gt;</Value></Tag></TagSet></Tagging>"},
	} {
		req, _ := http.NewRequest("PUT", base+"/tagged/q3.csv?tagging", strings.NewReader(tc.body))
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		resp, err := ta.client.Do(signer.SignV4(*req, u.key, u.secret, "", "us-east-1"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "<Code>InvalidTag</Code>") {
			t.Errorf("%s: %d %s, want 400 InvalidTag", tc.name, resp.StatusCode, b)
		}
	}
	if got := get("q3.csv"); len(got) != 0 {
		t.Errorf("tags after refused sets = %v", got)
	}

	// Sealed with the object's metadata: in clear nowhere on disk.
	err = filepath.WalkDir(cfg.Data, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, secret := range []string{"confidential-zephyr", "finance team"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the tag %q in clear", path, secret)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
