// Command serve load-tests emac's HTTP server: it starts the server in
// this process on loopback and drives GET /v1/journeys/{journey}/gate at a
// fixed open-loop rate, as many rollout controllers polling at once would.
//
//	go run ./bench/serve                          # 1000 req/s for 30s
//	go run ./bench/serve -rate 5000 -duration 1m
//	go run ./bench/serve -duration 5m             # a soak: is memory flat?
//
// Latency is measured from each request's scheduled send time, not from
// when it was sent, so that a stalled server is charged for the requests
// it held back (coordinated omission). The service time from the actual
// send is printed beside it, and the lag between the two, which holds the
// generator's own timer granularity. Every latency is counted, in a
// histogram of fixed memory (buckets 1/128 of a power of two wide), so
// that the generator's memory does not grow with the run. Every -sample a
// line gives the progress, the latency quantiles of that window, and the
// process's heap in use and resident memory: the server and the generator
// share the process, so flat figures mean neither leaks.
//
// The fake backend answers a fixed result: the server's cost alone. The
// governor backend is the real one, service.Governor, over a real
// prometheus (Debian's, run by internal/promtest) holding 3h of the shop
// journey's telemetry; its cache (-ttl) is refreshed in the background
// while the load runs, and the latencies of the requests in flight during
// a refresh are printed apart:
//
//	go run ./bench/serve -backend governor -rate 1000 -duration 5m
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/bits"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/observe"
	"github.com/emac-dev/emac/internal/server"
	"github.com/emac-dev/emac/internal/service"
)

// backendFunc makes a Backend; the func releases what it holds.
type backendFunc func(ctx context.Context, c config) (server.Backend, func(), error)

// backends are the backends -backend names.
func backends() map[string]backendFunc {
	return map[string]backendFunc{
		"fake":     newFake,
		"governor": newGovernor,
	}
}

// errNoJourney is a backend serving nothing.
var errNoJourney = errors.New("the backend serves no journey")

// token is the bearer token the server requires, as in a cluster.
const token = "bench"

func main() {
	rate := flag.Float64("rate", 1000, "requests per second, sent on schedule whatever the answers' speed")
	duration := flag.Duration("duration", 30*time.Second, "how long to send")
	concurrency := flag.Int("concurrency", 64, "the most requests in flight: a late answer delays the schedule of no one else until all are busy")
	backend := flag.String("backend", "fake", "the server's backend: "+strings.Join(names(backends()), ", "))
	journey := flag.String("journey", "", "the journey whose gate is asked (default: the backend's first, checkout for fake, shop for governor)")
	ttl := flag.Duration("ttl", 15*time.Second, "the governor backend's cache TTL: the load sees a refresh every TTL")
	spec := flag.String("spec", "internal/service/testdata/gate/shop.yaml", "the governor backend's journey spec, matching the telemetry it backfills")
	sample := flag.Duration("sample", 10*time.Second, "how often to print the progress, heap and RSS")
	logs := flag.String("log", "none", "the server's access logs: none, json (formatted, then discarded: their cost without a terminal's) or stderr")
	flag.Parse()
	// interrupted, the run stops early and still releases its backend:
	// the governor's prometheus and its storage
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, config{rate: *rate, duration: *duration, concurrency: *concurrency, backend: *backend,
		journey: *journey, sample: *sample, logs: *logs, ttl: *ttl, spec: *spec})
	if err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

func names(m map[string]backendFunc) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type config struct {
	rate             float64
	duration, sample time.Duration
	concurrency      int
	backend, journey string
	logs             string
	ttl              time.Duration // governor
	spec             string        // governor
}

func run(ctx context.Context, c config) error {
	if c.rate <= 0 || c.duration <= 0 || c.concurrency <= 0 || c.sample <= 0 {
		return errors.New("-rate, -duration, -concurrency and -sample must be positive")
	}
	mk, ok := backends()[c.backend]
	if !ok {
		return fmt.Errorf("-backend %q: want one of %s", c.backend, strings.Join(names(backends()), ", "))
	}
	var logger *slog.Logger
	switch c.logs {
	case "none":
	case "json":
		logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	case "stderr":
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	default:
		return fmt.Errorf("-log %q: want none, json or stderr", c.logs)
	}
	b, release, err := mk(ctx, c)
	if err != nil {
		return fmt.Errorf("backend %s: %w", c.backend, err)
	}
	defer release()
	if c.journey == "" {
		js := b.Journeys()
		if len(js) == 0 {
			return fmt.Errorf("backend %s: %w", c.backend, errNoJourney)
		}
		c.journey = js[0]
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- server.New(b, server.Options{Token: token, Logger: logger}).Serve(sctx, l) }()
	defer func() {
		stop()
		<-served
	}()

	tr := &http.Transport{
		MaxIdleConns:        c.concurrency,
		MaxIdleConnsPerHost: c.concurrency, // the default 2 would reconnect at every burst
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := "http://" + l.Addr().String() + "/v1/journeys/" + c.journey + "/gate"
	decision, err := check(ctx, client, url)
	if err != nil {
		return fmt.Errorf("the first request: %w", err)
	}
	fmt.Printf("GET %s at %g req/s for %v, %d workers, backend %s (decision %s), GOMAXPROCS %d\n",
		strings.TrimPrefix(url, "http://"+l.Addr().String()), c.rate, c.duration, c.concurrency, c.backend, decision, runtime.GOMAXPROCS(0))
	return load(ctx, client, url, c, b)
}

// check sends one request and returns the decision.
func check(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, body)
	}
	var res v1alpha1.JourneyResult
	if err := json.Unmarshal(body, &res); err != nil {
		return "", err
	}
	return res.Decision, nil
}

// recorder counts every answer.
type recorder struct {
	mu       sync.Mutex
	latency  hist // from the scheduled send
	service  hist // from the actual send
	lag      hist // from the schedule to the send
	window   hist // latency since the last sample
	busy     hist // latency of requests in flight during a refresh
	quiet    hist // and of the others (only for a refresher)
	errors   map[string]int
	done     int
	lastDone time.Time
}

// add counts an answer; busy says a backend refresh ran while it was in
// flight.
func (r *recorder) add(latency, service, lag time.Duration, errKind string, at time.Time, busy bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	r.lastDone = at
	if errKind != "" {
		r.errors[errKind]++
		return
	}
	r.latency.add(latency)
	r.window.add(latency)
	r.service.add(service)
	r.lag.add(lag)
	if busy {
		r.busy.add(latency)
	} else {
		r.quiet.add(latency)
	}
}

// refresher is a backend that refreshes what it answers in the background
// (the governor's cache), and says when, so that the cost of a refresh to
// the answers in flight can be told apart.
type refresher interface {
	// Refreshing says a refresh runs.
	Refreshing() bool
	// Report describes the refreshes so far.
	Report() string
}

// load sends on schedule and prints the figures; b's refreshes, if it has
// any, are reported.
func load(ctx context.Context, client *http.Client, url string, c config, b server.Backend) error {
	rf, _ := b.(refresher)
	refreshing := func() bool { return rf != nil && rf.Refreshing() }
	rec := &recorder{errors: map[string]int{}}
	interval := float64(time.Second) / c.rate
	start := time.Now()
	end := start.Add(c.duration)
	var next, sent atomic.Int64
	var wg sync.WaitGroup
	template, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	template.Header.Set("Authorization", "Bearer "+token)
	for range c.concurrency {
		wg.Go(func() {
			req := template.Clone(ctx) // a request is not for concurrent use
			for {
				i := next.Add(1) - 1
				at := start.Add(time.Duration(float64(i) * interval))
				if !at.Before(end) {
					return
				}
				if d := time.Until(at); d > 0 {
					time.Sleep(d)
				}
				if ctx.Err() != nil {
					return // interrupted
				}
				sent.Add(1)
				busy := refreshing()
				t0 := time.Now()
				kind := send(client, req)
				t1 := time.Now()
				// a refresh that began and ended within the request is
				// missed: the refreshes take far longer than the answers
				busy = busy || refreshing()
				rec.add(t1.Sub(at), t1.Sub(t0), t0.Sub(at), kind, t1, busy)
			}
		})
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	fmt.Printf("%8s %9s %9s %7s %9s %11s %11s %11s %9s %9s %8s\n", "elapsed", "sent", "done", "errors", "rate/s", "win p50 ms", "win p99 ms", "win max ms", "heap MB", "RSS MB", "gorout.")
	tick := time.NewTicker(c.sample)
	defer tick.Stop()
	lastDone, lastAt := 0, start
	printSample := func(now time.Time) {
		rec.mu.Lock()
		done, errs := rec.done, sumErrors(rec.errors)
		p50, p99, pmax := rec.window.quantile(0.5), rec.window.quantile(0.99), rec.window.max
		rec.window = hist{}
		rec.mu.Unlock()
		heap, rss := memory()
		fmt.Printf("%8s %9d %9d %7d %9.1f %11.3f %11.3f %11.3f %9.1f %9s %8d\n", now.Sub(start).Round(time.Second), sent.Load(), done, errs,
			float64(done-lastDone)/now.Sub(lastAt).Seconds(), ms(p50), ms(p99), ms(pmax), float64(heap)/(1<<20), rss, runtime.NumGoroutine())
		lastDone, lastAt = done, now
	}
loop:
	for {
		select {
		case now := <-tick.C:
			printSample(now)
		case <-finished:
			break loop
		}
	}
	printSample(time.Now())

	rec.mu.Lock()
	defer rec.mu.Unlock()
	elapsed := rec.lastDone.Sub(start)
	if elapsed <= 0 {
		elapsed = c.duration
	}
	fmt.Println()
	fmt.Println("latency from the scheduled send (coordinated omission corrected):")
	fmt.Println("  " + rec.latency.summary())
	if rf != nil {
		fmt.Println("  in flight during a refresh: " + rec.busy.summary())
		fmt.Println("  the others:                 " + rec.quiet.summary())
	}
	fmt.Println("service time from the actual send:")
	fmt.Println("  " + rec.service.summary())
	fmt.Println("send lag, schedule to send (the generator's wake-up, Go timers sleep in steps of up to 1ms when idle, and any wait for a free worker):")
	fmt.Println("  " + rec.lag.summary())
	fmt.Printf("requests %d, errors %d, achieved %.1f req/s (asked %g)\n", rec.done, sumErrors(rec.errors), float64(rec.done)/elapsed.Seconds(), c.rate)
	for k, n := range rec.errors {
		fmt.Printf("  %6d %s\n", n, k)
	}
	if rf != nil {
		fmt.Println("refreshes: " + rf.Report())
	}
	heap, rss := memory()
	fmt.Printf("heap in use %.1f MB, RSS %s MB\n", float64(heap)/(1<<20), rss)
	if ctx.Err() != nil {
		fmt.Println("interrupted: the run is shorter than asked")
	}
	return nil
}

// send does one request and returns what went wrong ("" for nothing).
func send(client *http.Client, req *http.Request) string {
	resp, err := client.Do(req)
	if err != nil {
		return "transport: " + err.Error()
	}
	_, err = io.Copy(io.Discard, resp.Body) // all of it, so the connection is reused
	resp.Body.Close()
	switch {
	case err != nil:
		return "body: " + err.Error()
	case resp.StatusCode != http.StatusOK:
		return "status " + strconv.Itoa(resp.StatusCode)
	}
	return ""
}

func sumErrors(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// memory returns the heap in use (live and free-but-held spans, as
// MemStats.HeapInuse, read without stopping the world) and VmRSS.
func memory() (heap uint64, rss string) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	metrics.Read(s)
	for _, x := range s {
		if x.Value.Kind() == metrics.KindUint64 {
			heap += x.Value.Uint64()
		}
	}
	rss = "n/a"
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				f := strings.Fields(v) // "12345 kB"
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil && len(f) == 2 && f[1] == "kB" {
					rss = strconv.FormatFloat(kb/1024, 'f', 1, 64)
				}
			}
		}
	}
	return heap, rss
}

// subBits sets the histogram's resolution: 2^subBits buckets per power of
// two, a relative error under 1/2^subBits.
const (
	subBits = 7
	sub     = 1 << subBits
)

// hist counts durations (nanoseconds) in log-linear buckets: exact below
// sub ns, then sub buckets per power of two, up to 2^63 ns, in fixed
// memory.
type hist struct {
	counts [(64 - subBits + 1) * sub]uint64
	n      uint64
	max    time.Duration
	sum    time.Duration
}

func bucket(v uint64) int {
	if v < sub {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // v>>shift is in [sub, 2sub)
	return (shift+1)*sub + int(v>>shift) - sub
}

// upper is the largest value of bucket i.
func upper(i int) uint64 {
	if i < sub {
		return uint64(i)
	}
	shift := i/sub - 1
	m := uint64(i%sub + sub)
	return (m+1)<<shift - 1
}

func (h *hist) add(d time.Duration) {
	d = max(d, 0)
	h.counts[bucket(uint64(d))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// quantile is the q-quantile, within the resolution (never above max).
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var c uint64
	for i, n := range h.counts {
		if c += n; c >= rank {
			return min(time.Duration(upper(i)), h.max)
		}
	}
	return h.max
}

func (h *hist) summary() string {
	if h.n == 0 {
		return "no answers"
	}
	return fmt.Sprintf("p50 %.3fms  p90 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms  mean %.3fms  (n %d)",
		ms(h.quantile(0.5)), ms(h.quantile(0.9)), ms(h.quantile(0.99)), ms(h.quantile(0.999)), ms(h.max), ms(h.sum/time.Duration(h.n)), h.n)
}

// fake is a backend answering the paper's checkout journey in observed
// mode, as the Governor does from its cache: the server's cost alone.
type fake struct{ res *v1alpha1.JourneyResult }

func newFake(context.Context, config) (server.Backend, func(), error) {
	return &fake{res: checkout()}, func() {}, nil
}

func (f *fake) Journeys() []string { return []string{"checkout"} }

func (f *fake) Gate(_ context.Context, journey string, _ []observe.Canary) (*v1alpha1.JourneyResult, error) {
	if journey != "checkout" {
		return nil, &service.NotFoundError{What: "journey", Name: journey, Candidates: f.Journeys()}
	}
	return f.res, nil
}

func (f *fake) Guard(ctx context.Context, journey, action string, params map[string]any, dryRun bool) (*v1alpha1.GuardResult, error) {
	res, err := f.Gate(ctx, journey, nil)
	if err != nil {
		return nil, err
	}
	return &v1alpha1.GuardResult{Journey: journey, Action: action, Allowed: false, Decision: res.Decision,
		Reasons: []string{"the guard does not hold: A_minus >= objective.availability"}}, nil
}

// checkout is `emac gate` on the paper's checkout journey: every field a
// real answer has, at its size.
func checkout() *v1alpha1.JourneyResult {
	f := func(v float64) *float64 { return &v }
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	comps := []struct {
		name    string
		avail   float64
		calls   float64
		domains []string
	}{
		{"cart", 0.999, 182000, []string{"k8s/zone", "k8s/cluster"}},
		{"front", 0.9995, 411000, []string{"k8s/zone", "k8s/cluster"}},
		{"paya", 0.995, 96000, []string{"payment-network"}},
		{"payb", 0.995, 95500, []string{"payment-network"}},
		{"pricing", 0.999, 181000, []string{"k8s/zone", "k8s/cluster"}},
	}
	res := &v1alpha1.JourneyResult{
		Name: "checkout", Decision: v1alpha1.DecisionFail, Mode: v1alpha1.ModeObserved, Confidence: 1,
		Source: "examples/native/checkout.yaml",
		Flow:   "Series(front, All(cart, pricing), Race(paya, payb))",
		Reasons: []string{"A- 0.99251449 (binding: payment-network) is below the objective 0.995",
			"latency: p99 ≤ 400ms met: p_upper 0.352s"},
		Availability: v1alpha1.AvailabilityResult{Target: 0.995, Window: "30d", Optimistic: 0.99747706, Pessimistic: 0.99251449,
			Floor: 0.9925, Binding: []string{"payment-network"}, Bound: "pessimistic", Exact: true, Method: "exact", Scenarios: 8},
		Latency: &v1alpha1.LatencyResult{Percentile: 0.99, Threshold: 0.4, Independent: f(0.281), Upper: f(0.352), Within: f(0.9953),
			Quantiles: []v1alpha1.LatencyQuantile{{Level: 0.5, Independent: 0.092, Upper: 0.118}, {Level: 0.9, Independent: 0.171, Upper: 0.214},
				{Level: 0.99, Independent: 0.281, Upper: 0.352}, {Level: 0.999, Independent: 0.397, Upper: 0.512}},
			Resolution: 0.001, Error: 0.002, Status: "met"},
		Contributors: []v1alpha1.Contributor{{Component: "paya", Share: 0.4, Importance: 0.4963, Availability: 0.995},
			{Component: "payb", Share: 0.4, Importance: 0.4963, Availability: 0.995}, {Component: "cart", Share: 0.08, Importance: 0.9983, Availability: 0.999},
			{Component: "pricing", Share: 0.08, Importance: 0.9983, Availability: 0.999}, {Component: "front", Share: 0.04, Importance: 0.9978, Availability: 0.9995}},
		Domains: []v1alpha1.DomainResult{{Name: "payment-network", Members: []string{"paya", "payb"}, Loss: 0.00496257, Binding: true, Required: f(0.99749799)},
			{Name: "k8s/zone", Members: []string{"cart", "front", "pricing"}, Loss: 0.0000015},
			{Name: "k8s/cluster", Members: []string{"cart", "front", "pricing"}, Loss: 0.0000015}},
		Observation: &v1alpha1.Observation{Prometheus: "http://prometheus.monitoring:9090", At: at.Format(time.RFC3339), Window: "1h",
			ObjectiveWindow: "30d", Sufficient: true, Objective: &v1alpha1.ObservedBounds{Optimistic: 0.99761, Pessimistic: 0.99270, Floor: 0.99268}},
	}
	for _, c := range comps {
		req := v1alpha1.RequiredTarget{Component: c.name, Current: c.avail, Infeasible: true}
		if strings.HasPrefix(c.name, "pay") {
			req = v1alpha1.RequiredTarget{Component: c.name, Current: c.avail, Availability: f(0.99749173)}
		}
		res.Required = append(res.Required, req)
		res.Components = append(res.Components, v1alpha1.ComponentValue{Name: c.name, Availability: c.avail, Source: "slo/" + c.name + ".yaml", Domains: c.domains})
		res.Observation.Components = append(res.Observation.Components, v1alpha1.ObservedComponent{Name: c.name, Status: v1alpha1.ObservedOK,
			Availability: c.avail, Measured: f(c.avail), ObjectiveAvailability: f(c.avail + 0.0001), Calls: f(c.calls), Target: c.avail})
	}
	return res
}
