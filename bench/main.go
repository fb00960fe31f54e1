// Command bench measures Strongroom's S3 data plane side by side with MinIO
// on the same machine, with the same client (minio-go), in one run.
//
// # Running
//
// From the module root:
//
//	go run ./bench -targets strongroom,strongroom-clamd,minio -out results.json
//	go run ./bench -rss5g -cases none          # only the 5 GiB memory case
//	go run ./bench -render results.json        # print a saved run again
//
// The harness builds ./cmd/strongroom into its work directory — from the
// working tree, or as committed at -strongroom-rev — and runs it as a
// separate process, so that the server's memory is measured alone.
// MinIO is built once with `go install github.com/minio/minio@latest` into
// $(go env GOCACHE)/strongroom-bench/minio and reused. Both servers listen
// on loopback over HTTPS (HTTP/1.1) with a self-signed certificate the
// client trusts; every server has its own data directory under -workdir.
//
// # Targets
//
//	strongroom         encryption and audit on, scanning off (scan.disabled)
//	strongroom-clamd   as above, every upload scanned by clamd
//	minio              MinIO server on one drive, defaults (no KMS, so no
//	                   encryption at rest)
//
// For strongroom-clamd the harness starts a private clamd with a one-
// signature database (EICAR) unless -clamd names a running one; a full
// signature database scans more slowly.
//
// # Cases
//
//	put, get           throughput of -sizes objects with -streams clients, MB/s
//	get-small, head-small
//	                   requests/s on -small objects with -concurrency clients
//	-rss5g             peak resident memory of the server process while one
//	                   client uploads -rss-size bytes (a multipart upload)
//
// Each case runs -runs times for -duration, the targets taking turns, and
// the median is reported. Results go to standard output as a table and as
// Markdown for BENCHMARKS.md, and to -out as JSON.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
