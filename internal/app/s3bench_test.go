package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7"

	"strongroom/internal/identity"
)

// BenchmarkS3Small measures signed 1 KiB HEAD and GET requests, each with
// its durable audit event, at 16 concurrent clients (scanning off: only
// uploads are scanned).
//
//	go test -run '^$' -bench BenchmarkS3Small -benchtime 5s ./internal/app
func BenchmarkS3Small(b *testing.B) {
	cfg := testConfig(b)
	cfg.Scan.Disabled = true
	a, out := newApp(b, cfg)
	ta := start(b, a, out)
	u := newS3User(b, ta, "bench", "bencher", identity.RoleMember)
	// Keep a connection per client, as a real fleet of clients would:
	// the default of two idle connections per host makes the benchmark
	// measure TLS handshakes.
	tr := ta.client.Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	ta.client = &http.Client{Transport: tr}
	mc := minioClient(b, ta, u)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "bench", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	data := randomBytes(1024, 9)
	if _, err := mc.PutObject(ctx, "bench", "small.bin", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Run("HEAD", func(b *testing.B) {
		b.SetParallelism(8) // 16 clients on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := mc.StatObject(ctx, "bench", "small.bin", minio.StatObjectOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("GET", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				o, err := mc.GetObject(ctx, "bench", "small.bin", minio.GetObjectOptions{})
				if err == nil {
					_, err = io.Copy(io.Discard, o)
					o.Close()
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkS3Put64MiB measures one stream of signed 64 MiB PUTs with
// encryption and audit (scanning off).
//
//	go test -run '^$' -bench BenchmarkS3Put64MiB -benchtime 20x ./internal/app
func BenchmarkS3Put64MiB(b *testing.B) {
	cfg := testConfig(b)
	cfg.Scan.Disabled = true
	a, out := newApp(b, cfg)
	ta := start(b, a, out)
	u := newS3User(b, ta, "bench", "bencher", identity.RoleMember)
	mc := minioClient(b, ta, u)
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "bench", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	data := randomBytes(64<<20, 10)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := mc.PutObject(ctx, "bench", "big.bin", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			b.Fatal(err)
		}
	}
}
