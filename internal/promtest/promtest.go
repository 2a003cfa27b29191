// Package promtest runs a real Prometheus for tests of other packages: Debian's
// prometheus 2.42 (package prometheus, which also brings promtool), on a free
// loopback port, with its storage in the test's temporary directory.
//
// A fake of the HTTP API can only answer what we believe Prometheus answers; the
// real server applies its own PromQL (extrapolation, staleness, lookback), so code
// that reads Prometheus is checked against it. Start skips the test when the
// binaries are missing, and fails it when the environment variable CI is
// non-empty, so CI cannot pass by silently not running such tests. Start does not
// look at testing.Short: callers skip themselves, like internal/kubetest's.
// Launch runs the same server outside a test (bench/serve's governor backend),
// with errors instead of skips and failures.
//
// # History without waiting: backfill
//
// Options.Backfill is OpenMetrics text (see [OpenMetrics]) that Start turns into
// TSDB blocks with `promtool tsdb create-blocks-from openmetrics` before the server
// starts. What promtool 2.42 does with it, checked by running it:
//
//   - The input must end with "# EOF", optionally followed by one newline;
//     anything else after it is an error. Timestamps are in seconds and are
//     truncated to milliseconds. Every sample needs one.
//   - Blocks are aligned to 2h of Unix time; 2.42 has no flag to change that.
//     Promtool parses the whole input once per block, so a long span at a fine
//     step is slow (20 days at 10m: 241 blocks, 3 s).
//   - Within one block, a sample of a series that is not later than the previous
//     one is dropped without a word (for equal timestamps the first is kept).
//     [OpenMetrics] sorts samples and rejects duplicates, so nothing is lost.
//   - Family names are not checked against sample names; the stored metric name
//     is the sample's (x_total for a counter family x).
//
// And what Prometheus does with the blocks:
//
//   - On start, the head block's lower bound becomes the newest block's end, and
//     anything appended earlier (scrapes, rule evaluations) is dropped as out of
//     bounds. So backfilled data must end before Start: data up to a minute ago is
//     queryable at its historic times and at its last sample, and scrapes are
//     stored alongside; data reaching into the future makes every scrape dropped.
//   - Time retention counts back from the newest block, not from the wall clock:
//     with the default 15d, backfilled history more than 15 days older than its
//     end is deleted at start. Start sets a 10y retention so that 30-day windows
//     can be backfilled.
//   - Blocks may overlap (2.42 has no flag against it), as head blocks cut later
//     will overlap the backfilled 2h block: Prometheus logs a warning and
//     queries merge their samples.
//
// Recording rules (Options.RuleFiles) are evaluated from Start on; they do not
// compute the backfilled past.
//
// prometheus is a separate process. If a test binary (or Launch's caller) is
// killed, it keeps running: find it with `pgrep -a prometheus` and stop it by
// process id.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Job is the job label of the scrape targets in Options.Targets.
const Job = "promtest"

const (
	installHint   = "apt-get install prometheus"
	readyTimeout  = 30 * time.Second
	stopTimeout   = 10 * time.Second
	queryTimeout  = 30 * time.Second
	defaultScrape = time.Second
	// retention is long because retention counts back from the newest block: a
	// backfill of a 30-day window must survive the default 15d.
	retention = "10y"
)

// Options configures a server; the zero value is a server with no targets, rules
// or data.
type Options struct {
	// Targets are host:port scrape targets, scraped every ScrapeInterval under
	// job Job. The first scrape comes about 5s after Start: Prometheus applies
	// discovered targets on a fixed 5s tick.
	Targets []string
	// ScrapeInterval is also the scrape timeout and the rule evaluation interval,
	// so that tests need not wait Prometheus's default minute. Default 1s.
	ScrapeInterval time.Duration
	// Backfill is OpenMetrics text loaded into the storage before start (see
	// the package documentation). It must end with "# EOF"; empty means none.
	Backfill string
	// RuleFiles are the contents of rule files to load.
	RuleFiles []string
}

// Server is a running (or stopped) prometheus. Stop and Restart are not for
// concurrent use with each other; queries may run concurrently.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:port; it stays the same
	// across Restart.
	URL string

	bin  string
	args []string
	api  v1.API
	logs *logBuffer

	mu        sync.Mutex
	proc      *process // nil when stopped
	logsShown bool     // a failure message already carried the logs
}

// process is one run of the binary; done is closed when it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// logBuffer collects the output of every run: exec copies it from its own
// goroutine while a failing test may read it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lookPath finds a binary of Debian's prometheus package; without it the test is
// skipped, or fails under CI.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := find(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtest: %s not found; CI is set, so the Prometheus tests must run: %s", name, installHint)
		}
		t.Skipf("promtest: %s not found: %s", name, installHint)
	}
	return p
}

// find looks a binary of the prometheus package up on PATH.
func find(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found: %s", name, installHint)
	}
	return p, nil
}

// Start runs prometheus for t, waits until it is ready (GET /-/ready, at most
// 30s), and stops it when t ends, logging its output if t failed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	// looked up here as well as in Launch so that missing binaries skip the
	// test (or fail it under CI) rather than fail it
	bin := lookPath(t, "prometheus")
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err == nil {
		t.Logf("promtest: %s", bytes.SplitN(out, []byte("\n"), 2)[0])
	}
	if opts.Backfill != "" {
		lookPath(t, "promtool")
	}
	s, err := Launch(opts, t.TempDir())
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		s.mu.Lock()
		shown := s.logsShown
		s.mu.Unlock()
		if t.Failed() && !shown {
			t.Logf("prometheus output:\n%s", s.logs.String())
		}
	})
	return s
}

// Launch runs prometheus outside a test, for a benchmark or a demo: its
// configuration and storage go into dir, which must exist, and the binaries
// are looked up on PATH. It waits until the server is ready (GET /-/ready, at
// most 30s); an error that comes from prometheus itself carries its output.
// The caller must Stop the server, which outlives it otherwise, and then
// remove dir.
func Launch(opts Options, dir string) (*Server, error) {
	bin, err := find("prometheus")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if opts.Backfill != "" {
		promtool, err := find("promtool")
		if err != nil {
			return nil, err
		}
		if err := backfill(promtool, dir, data, opts.Backfill); err != nil {
			return nil, err
		}
	}
	cfg, err := config(dir, opts)
	if err != nil {
		return nil, err
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	s := &Server{
		URL:  "http://" + addr,
		bin:  bin,
		logs: &logBuffer{},
		args: []string{
			"--config.file=" + cfg,
			"--storage.tsdb.path=" + data,
			"--storage.tsdb.retention.time=" + retention,
			"--web.listen-address=" + addr,
			"--log.level=warn",
		},
	}
	c, err := api.NewClient(api.Config{Address: s.URL})
	if err != nil {
		return nil, err
	}
	s.api = v1.NewAPI(c)
	if err := s.start(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// backfill writes the OpenMetrics text to dir and has promtool turn it into
// blocks under data.
func backfill(promtool, dir, data, text string) error {
	in := filepath.Join(dir, "backfill.om")
	if err := os.WriteFile(in, []byte(text), 0o644); err != nil {
		return err
	}
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", in, data).CombinedOutput()
	if err != nil {
		return fmt.Errorf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
	return nil
}

// config writes the rule files and prometheus.yml into dir and returns the
// latter's path. The configuration is JSON, which is YAML, so that no value
// needs YAML quoting.
func config(dir string, opts Options) (string, error) {
	iv := opts.ScrapeInterval
	if iv <= 0 {
		iv = defaultScrape
	}
	d := model.Duration(iv).String()
	cfg := map[string]any{
		"global": map[string]string{"scrape_interval": d, "scrape_timeout": d, "evaluation_interval": d},
	}
	if len(opts.Targets) > 0 {
		cfg["scrape_configs"] = []any{map[string]any{
			"job_name":       Job,
			"static_configs": []any{map[string]any{"targets": opts.Targets}},
		}}
	}
	var rules []string
	for i, r := range opts.RuleFiles {
		p := filepath.Join(dir, fmt.Sprintf("rules-%d.yml", i))
		if err := os.WriteFile(p, []byte(r), 0o644); err != nil {
			return "", err
		}
		rules = append(rules, p)
	}
	if len(rules) > 0 {
		cfg["rule_files"] = rules
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "prometheus.yml")
	return p, os.WriteFile(p, b, 0o644)
}

// FreeAddr returns a loopback address (host:port) with a port that was free a
// moment ago, for a server a test starts as another process (prometheus here,
// a collector or emac serve elsewhere): that process binds it itself, so
// another may in principle take it first.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs the binary and waits until it is ready. If it is not, it stops
// it (nothing else would: Launch's caller gets no Server) and the error
// carries its output.
func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := s.waitReady(ctx, p); err != nil {
		p.stop()
		s.logsShown = true
		return fmt.Errorf("%v; prometheus output:\n%s", err, s.logs.String())
	}
	s.proc = p
	return nil
}

// waitReady polls /-/ready until it answers 200, the process exits, or
// readyTimeout passes.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /-/ready: %s", resp.Status)
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("prometheus exited before it was ready: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("prometheus not ready after %v (last: %v)", readyTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the server gracefully (SIGINT, so that it closes its storage
// cleanly for Restart), killing it if it has not exited after 10s. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop()
		s.proc = nil
	}
}

// stop stops the process as Stop describes.
func (p *process) stop() {
	p.cmd.Process.Signal(os.Interrupt) // fails only if it has already exited
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Restart stops the server if it runs and starts it again on the same address
// and storage, for tests of clients that must survive the server going away.
// The data come back from the blocks and the WAL; Backfill is not loaded again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(t.Context()); err != nil {
		t.Fatalf("promtest: %v", err)
	}
}

// API returns a client of the server's HTTP API, for what Query does not cover
// and for tests that expect errors.
func (s *Server) API() v1.API { return s.api }

// Query evaluates the instant query q at time at, failing t on an error or on a
// result that is not an instant vector. Warnings are logged.
func (s *Server) Query(t testing.TB, q string, at time.Time) model.Vector {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), queryTimeout)
	defer cancel()
	v, warnings, err := s.api.Query(ctx, q, at)
	if err != nil {
		t.Fatalf("promtest: query %s at %v: %v", q, at.UTC(), err)
	}
	if len(warnings) > 0 {
		t.Logf("promtest: query %s at %v: warnings: %s", q, at.UTC(), strings.Join(warnings, "; "))
	}
	vec, ok := v.(model.Vector)
	if !ok {
		t.Fatalf("promtest: query %s: got a %s, want a vector", q, v.Type())
	}
	return vec
}
