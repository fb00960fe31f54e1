package app

import (
	"context"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAPIUnderPasswordFlood measures session-authenticated API
// requests (GET /api/v1/me) while wrong-password sign-ins arrive at 500 per
// second from addresses the per-source throttle does not stop (the worst
// case: a flood from many networks). Each wrong attempt costs a full
// argon2id hash at the baseline's parameters; the hashing limit must keep
// the API responsive. Reports the API's p50 and p99 latency and what
// became of the flood.
//
//	go test -run '^$' -bench APIUnderPasswordFlood -benchtime 400x ./internal/app/
func BenchmarkAPIUnderPasswordFlood(b *testing.B) {
	for _, flood := range []int{0, 500} {
		b.Run(map[int]string{0: "no-flood", 500: "flood-500-per-s"}[flood], func(b *testing.B) {
			benchUnderFlood(b, flood)
		})
	}
}

func benchUnderFlood(b *testing.B, perSecond int) {
	ta, root, _ := bootstrapped(b)
	ta.App.identity.Policy.Lockout.SourceLimit = 0 // model many source networks
	url := "https://" + ta.Addr("https")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, refused, failed atomic.Int64
	if perSecond > 0 {
		sem := make(chan struct{}, 256)
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second / time.Duration(perSecond))
			defer tick.Stop()
			body := `{"user":"root","password":"wrong-guess-0001","notice_accepted":true}`
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				select {
				case sem <- struct{}{}:
				default:
					failed.Add(1) // the client could not even send: 256 in flight
					continue
				}
				sent.Add(1)
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					resp, err := ta.client.Post(url+"/api/v1/sessions", "application/json", strings.NewReader(body))
					if err != nil {
						failed.Add(1)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
						refused.Add(1)
					}
				}()
			}
		}()
		time.Sleep(time.Second) // let the flood fill the hashing queue
	}

	lat := make([]time.Duration, 0, b.N)
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+root.Token)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		t0 := time.Now()
		resp, err := ta.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /api/v1/me = %d", resp.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	wg.Wait()

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "api-req/s")
	if perSecond > 0 {
		b.ReportMetric(float64(sent.Load()), "flood-sent")
		b.ReportMetric(float64(refused.Load()), "flood-503")
	}
}
