package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// bucket is where the harness keeps its objects on every server.
const bucket = "bench"

// target is a started server and the client that measures it.
type target struct {
	*server
	s3 *minio.Client
}

// newTarget connects a minio-go client to s over HTTPS/1.1, trusting only
// the server's certificate, with enough idle connections kept for conns
// clients at once, and creates the bucket.
func newTarget(ctx context.Context, s *server, conns int) (*target, error) {
	tr, err := minio.DefaultTransport(true)
	if err != nil {
		return nil, err
	}
	if tr.TLSClientConfig.RootCAs, err = certPool(s.CAFile); err != nil {
		return nil, err
	}
	tr.MaxIdleConnsPerHost = max(conns*4, 64)
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.Key.ID, s.Key.Secret, ""),
		Secure:       true,
		Transport:    tr,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, err
	}
	exists, err := c.BucketExists(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("%s: does bucket %q exist: %w", s.Name, bucket, err)
	}
	if !exists {
		if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			return nil, fmt.Errorf("%s: create bucket %q: %w", s.Name, bucket, err)
		}
	}
	return &target{server: s, s3: c}, nil
}

// checkScanning uploads the EICAR test file and expects the server to
// refuse it, proving that scanning is in effect.
func (t *target) checkScanning(ctx context.Context) error {
	b := eicar()
	_, err := t.s3.PutObject(ctx, bucket, "eicar.txt", bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
	if err == nil {
		t.s3.RemoveObject(ctx, bucket, "eicar.txt", minio.RemoveObjectOptions{})
		return fmt.Errorf("%s stored the EICAR test file: scanning is not in effect", t.Name)
	}
	return nil
}

// pattern is deterministic, incompressible object data: word i of the
// stream is splitmix64 of seed+i, so that any range can be produced
// without producing what precedes it.
type pattern struct{ seed uint64 }

func (p pattern) word(i uint64) uint64 {
	z := p.seed + i*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// ReadAt fills b with the stream from off. It never fails.
func (p pattern) ReadAt(b []byte, off int64) (int, error) {
	n := len(b)
	i := uint64(off) / 8
	if skip := int(uint64(off) % 8); skip != 0 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], p.word(i))
		c := copy(b, w[skip:])
		b = b[c:]
		i++
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, p.word(i))
		b = b[8:]
		i++
	}
	if len(b) > 0 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], p.word(i))
		copy(b, w[:])
	}
	return n, nil
}

// object returns size bytes of the stream of seed.
func object(seed uint64, size int64) []byte {
	b := make([]byte, size)
	pattern{seed}.ReadAt(b, 0)
	return b
}

// load is the outcome of one run of a case.
type load struct {
	ops     int64
	bytes   int64
	elapsed time.Duration
}

// runFor runs op in workers goroutines until d has passed, each starting
// operations one after another, and counts the operations that completed,
// with the time until the last one ended. The first error stops the run.
func runFor(ctx context.Context, workers int, d time.Duration, op func(ctx context.Context, worker int, i int64) (int64, error)) (load, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var ops, total atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := int64(0); time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				n, err := op(ctx, w, i)
				if err != nil {
					cancel(err)
					return
				}
				ops.Add(1)
				total.Add(n)
			}
		})
	}
	wg.Wait()
	l := load{ops: ops.Load(), bytes: total.Load(), elapsed: time.Since(start)}
	if err := context.Cause(ctx); err != nil {
		return l, err
	}
	return l, nil
}

// mbPerSecond is the throughput of l in MB/s (10^6 bytes).
func (l load) mbPerSecond() float64 { return float64(l.bytes) / 1e6 / l.elapsed.Seconds() }

// perSecond is the rate of operations of l.
func (l load) perSecond() float64 { return float64(l.ops) / l.elapsed.Seconds() }

// putThroughput uploads size-byte objects with streams clients for d, each
// client overwriting its own key.
func (t *target) putThroughput(ctx context.Context, size int64, streams int, d time.Duration) (float64, error) {
	data := object(uint64(size), size)
	l, err := runFor(ctx, streams, d, func(ctx context.Context, w int, _ int64) (int64, error) {
		key := fmt.Sprintf("put/%d/%d", size, w)
		_, err := t.s3.PutObject(ctx, bucket, key, bytes.NewReader(data), size, minio.PutObjectOptions{})
		return size, err
	})
	if err != nil {
		return 0, fmt.Errorf("PUT %s: %w", formatSize(size), err)
	}
	return l.mbPerSecond(), nil
}

// prepareGet stores the object the get case reads and checks that it
// reads back unchanged.
func (t *target) prepareGet(ctx context.Context, size int64) error {
	data := object(uint64(size)+1, size)
	key := fmt.Sprintf("get/%d", size)
	if _, err := t.s3.PutObject(ctx, bucket, key, bytes.NewReader(data), size, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("store %s for GET: %w", formatSize(size), err)
	}
	got, err := t.read(ctx, key)
	if err != nil {
		return fmt.Errorf("read back %s: %w", formatSize(size), err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("read back %s: %d bytes differ from the %d stored", formatSize(size), len(got), len(data))
	}
	return nil
}

func (t *target) read(ctx context.Context, key string) ([]byte, error) {
	obj, err := t.s3.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

// getThroughput downloads the object of prepareGet with streams clients
// for d.
func (t *target) getThroughput(ctx context.Context, size int64, streams int, d time.Duration) (float64, error) {
	key := fmt.Sprintf("get/%d", size)
	l, err := runFor(ctx, streams, d, func(ctx context.Context, _ int, _ int64) (int64, error) {
		return t.discard(ctx, key, size)
	})
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", formatSize(size), err)
	}
	return l.mbPerSecond(), nil
}

// discard reads the object at key and checks its length.
func (t *target) discard(ctx context.Context, key string, size int64) (int64, error) {
	obj, err := t.s3.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return 0, err
	}
	defer obj.Close()
	n, err := io.Copy(io.Discard, obj)
	if err == nil && n != size {
		err = fmt.Errorf("%s: got %d bytes, want %d", key, n, size)
	}
	return n, err
}

// smallObjects is how many objects the small-request cases spread over.
const smallObjects = 64

func smallKey(i int64) string { return fmt.Sprintf("small/%03d", i%smallObjects) }

// prepareSmall stores the objects of the small-request cases.
func (t *target) prepareSmall(ctx context.Context, size int64) error {
	for i := range int64(smallObjects) {
		data := object(uint64(1000+i), size)
		if _, err := t.s3.PutObject(ctx, bucket, smallKey(i), bytes.NewReader(data), size, minio.PutObjectOptions{}); err != nil {
			return fmt.Errorf("store %s objects: %w", formatSize(size), err)
		}
	}
	return nil
}

// smallRate measures GET (or HEAD, with head) requests per second on the
// objects of prepareSmall with clients at once.
func (t *target) smallRate(ctx context.Context, size int64, head bool, clients int, d time.Duration) (float64, error) {
	l, err := runFor(ctx, clients, d, func(ctx context.Context, w int, i int64) (int64, error) {
		key := smallKey(int64(w) + i*int64(clients))
		if head {
			info, err := t.s3.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
			if err == nil && info.Size != size {
				err = fmt.Errorf("HEAD %s: size %d, want %d", key, info.Size, size)
			}
			return 0, err
		}
		return t.discard(ctx, key, size)
	})
	if err != nil {
		return 0, err
	}
	return l.perSecond(), nil
}

// memory is the outcome of the memory case.
type memory struct {
	peakMiB float64 // the larger of VmHWM and the highest VmRSS sampled
	mbps    float64 // the upload's throughput
}

// rssUpload uploads size bytes from the pattern in one PutObject (which
// minio-go sends as a multipart upload) while sampling the server's
// resident memory, and removes the object afterwards. The server's peak
// is reset first where the kernel allows (clear_refs), so that earlier
// cases do not count.
func (t *target) rssUpload(ctx context.Context, size int64) (memory, error) {
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", t.PID), []byte("5"), 0)
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if st, err := readProcStatus(t.PID); err == nil {
				peak.Store(max(peak.Load(), st.rss))
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	start := time.Now()
	r := io.NewSectionReader(pattern{seed: 5}, 0, size)
	_, err := t.s3.PutObject(ctx, bucket, "rss", r, size, minio.PutObjectOptions{})
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		return memory{}, fmt.Errorf("PUT %s: %w", formatSize(size), err)
	}
	st, err := readProcStatus(t.PID)
	if err != nil {
		return memory{}, err
	}
	if err := t.s3.RemoveObject(ctx, bucket, "rss", minio.RemoveObjectOptions{}); err != nil {
		return memory{}, fmt.Errorf("remove the %s object: %w", formatSize(size), err)
	}
	return memory{
		peakMiB: float64(max(st.hwm, peak.Load())) / (1 << 20),
		mbps:    float64(size) / 1e6 / elapsed.Seconds(),
	}, nil
}

// procStatus holds the memory lines of /proc/PID/status, in bytes.
type procStatus struct {
	rss, hwm int64 // VmRSS, VmHWM
}

func readProcStatus(pid int) (procStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	return parseProcStatus(b)
}

// parseProcStatus reads VmRSS and VmHWM ("VmHWM:   123 kB").
func parseProcStatus(b []byte) (procStatus, error) {
	var st procStatus
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		num, ok := strings.CutSuffix(strings.TrimSpace(value), " kB")
		n, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			return procStatus{}, fmt.Errorf("/proc status line %q is not in kB", sc.Text())
		}
		if name == "VmRSS" {
			st.rss = n << 10
		} else {
			st.hwm = n << 10
		}
		seen++
	}
	if seen != 2 {
		return procStatus{}, errors.New("/proc status has no VmRSS and VmHWM lines")
	}
	return st, nil
}
