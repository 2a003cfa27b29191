// Package server is emac's HTTP server for the cluster (`emac serve`). It
// answers rollout controllers with the decisions of observed mode, decides
// guarded actions, and exports every journey's live model to Prometheus.
//
// Endpoints and their status codes:
//
//	GET  /v1/journeys                          200 {"journeys": [...]}
//	GET  /v1/journeys/{name}/gate              200 the JourneyResult, whatever its decision
//	POST /v1/journeys/{name}/flagger           200 PASS, 403 FAIL, 409 REVIEW
//	POST /v1/journeys/{name}/actions/{action}  200 allowed, 403 denied (a GuardResult)
//	GET  /metrics                              200 Prometheus text
//	GET  /healthz                              200 "ok"
//	GET  /readyz                               200 "ok", 503 not ready or shutting down
//
// The gate answers 200 for every decision because Argo Rollouts' web metric
// provider reads the decision from the body (jsonPath {$.decision},
// successCondition result == "PASS", failureCondition result == "FAIL",
// anything else Inconclusive) and counts any other status as an error of
// the measurement, not as a verdict. Flagger's webhooks only read the
// status (2xx allows), so that endpoint encodes the decision in it: FAIL
// is 403 (advancing is forbidden) and REVIEW 409 (the evidence conflicts
// with advancing until someone looks); both halt the canary. Use it as a
// pre-rollout, rollout, confirm-traffic-increase or confirm-promotion
// hook, never as a rollback hook, for which Flagger reads 200 as "roll
// back".
//
// The gate takes canaries as repeatable canary=component=selector
// parameters (observe.ParseCanary's form, URL-encoded); the flagger
// endpoint takes them from the webhook's metadata "canary", one pair a
// line, and from the same parameters.
//
// With Options.Token set, /v1 and /metrics require it as a bearer token;
// /healthz and /readyz stay open. Flagger cannot send the token (its
// webhooks have no headers): see Options.OpenFlagger.
//
// /metrics exports, from the most recent evaluation without canaries of
// each journey (by a request or by Serve's refresher):
// emac_journey_availability{journey,bound}, emac_journey_objective,
// emac_journey_confidence, emac_journey_decision{journey,decision},
// emac_journey_binding_scenario{journey,domains},
// emac_journey_latency_upper_seconds,
// emac_journey_evaluation_timestamp_seconds and
// emac_journey_observation_sufficient; the availability, binding and
// latency series are left out while the observation is insufficient, since
// the result then holds SLO targets in place of what could not be
// measured. Beside them: emac_http_requests_total{handler,code},
// emac_http_request_duration_seconds{handler}, and the Go and process
// collectors'.
//
// Every error is JSON, {"error": "..."}: 400 a bad canary or body, 401 a
// missing or wrong token, 404 an unknown journey, action or path, 405 a
// wrong method, 413 a body over 1 MiB, 500 a failure of emac (a panic
// included: the server keeps serving), 504 no answer within the request
// timeout.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/observe"
)

// Backend takes the decisions the server serves: *service.Governor in
// emac serve. Its errors of type *service.NotFoundError are answered 404.
type Backend interface {
	// Journeys lists the journeys served.
	Journeys() []string
	// Gate decides a journey in observed mode, with each canary's
	// measured availability in place of its component's. Results are
	// shared: the server never modifies them.
	Gate(ctx context.Context, journey string, canaries []observe.Canary) (*v1alpha1.JourneyResult, error)
	// Guard decides a request for a journey's guarded action.
	Guard(ctx context.Context, journey, action string, params map[string]any, dryRun bool) (*v1alpha1.GuardResult, error)
}

// Options configure a Server; the zero value is the default.
type Options struct {
	// Addr is where ListenAndServe listens (default ":8080").
	Addr string
	// Token, when set, is the bearer token (Authorization: Bearer <token>)
	// that /v1 and /metrics require: decisions, guarded actions (which
	// count against rate limits) and the live model are not for anyone
	// who can reach the port. /healthz and /readyz stay open so that the
	// kubelet's probes need no secret. "" leaves every endpoint open.
	Token string
	// OpenFlagger leaves POST /v1/journeys/{name}/flagger open when Token
	// is set: Flagger's webhooks cannot send headers (fluxcd/flagger#1192).
	// The endpoint only reads; restrict who reaches it with a
	// NetworkPolicy instead.
	OpenFlagger bool
	// RequestTimeout bounds each request (default 10s): past it the
	// answer is 504, even if the backend goes on evaluating (its result
	// still refreshes /metrics). It also sets the http.Server's read
	// timeouts, and its write timeout with a margin to write the answer.
	RequestTimeout time.Duration
	// ShutdownTimeout bounds how long Serve drains in-flight requests
	// once its context is cancelled (default 10s); past it connections
	// are closed.
	ShutdownTimeout time.Duration
	// Refresh is how often Serve evaluates every journey to keep /metrics
	// live between the rollout controllers' calls (default 30s; negative:
	// never, /metrics then shows what requests evaluated).
	Refresh time.Duration
	// Logger receives the access logs (Info for /v1, Debug for probes and
	// scrapes) and errors (default: discard).
	Logger *slog.Logger
	// Ready reports readiness for /readyz (nil: always ready).
	Ready func() error
}

// Defaults of Options.
const (
	DefaultAddr            = ":8080"
	DefaultRequestTimeout  = 10 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultRefresh         = 30 * time.Second
)

// maxBody bounds request bodies: a webhook or an action's parameters are
// small, and an unbounded body is a way to exhaust memory.
const maxBody = 1 << 20

// Server is emac's HTTP server. Its Handler is safe for concurrent use.
type Server struct {
	b      Backend
	opts   Options
	log    *slog.Logger
	token  [sha256.Size]byte
	reg    *prometheus.Registry
	models *models
	http   *httpMetrics
	mux    *http.ServeMux
	labels map[string]string // handler label by route pattern
	// draining is set once Serve begins to shut down: /readyz fails so
	// that load balancers stop sending new requests.
	draining atomic.Bool
}

// New returns a Server answering from b.
func New(b Backend, opts Options) *Server {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.Refresh == 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{b: b, opts: opts, log: opts.Logger, reg: prometheus.NewRegistry(), models: newModels(),
		mux: http.NewServeMux(), labels: map[string]string{}}
	s.token = sha256.Sum256([]byte(opts.Token))
	s.http = newHTTPMetrics()
	s.reg.MustRegister(s.models, s.http.requests, s.http.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{s.log},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      s.reg,
	})
	s.route("GET /v1/journeys", "journeys", true, s.journeys)
	s.route("GET /v1/journeys/{name}/gate", "gate", true, s.gate)
	s.route("POST /v1/journeys/{name}/flagger", "flagger", !opts.OpenFlagger, s.flagger)
	s.route("POST /v1/journeys/{name}/actions/{action}", "action", true, s.action)
	s.route("GET /metrics", "metrics", true, metrics.ServeHTTP)
	s.route("GET /healthz", "healthz", false, s.healthz)
	s.route("GET /readyz", "readyz", false, s.readyz)
	return s
}

// route registers h at pattern under a short handler label for metrics.
func (s *Server) route(pattern, label string, protected bool, h http.HandlerFunc) {
	s.labels[pattern] = label
	if protected && s.opts.Token != "" {
		h = s.authorize(h)
	}
	s.mux.Handle(pattern, h)
}

// Handler is the server's handler: the endpoints with authorization,
// timeouts, panic recovery, access logs and metrics. It does not refresh
// the journeys in the background: Serve does.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.root) }

// ListenAndServe listens on Options.Addr and serves until ctx is
// cancelled; see Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, l)
}

// writeMargin is the time the server allows past the request timeout to
// write an answer.
const writeMargin = 5 * time.Second

// Serve serves on l, and evaluates every journey each Options.Refresh,
// until ctx is cancelled. It then fails /readyz, stops accepting, lets the
// in-flight requests finish (for at most Options.ShutdownTimeout) and
// returns nil; or the error that stopped it. Serve closes l.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: min(5*time.Second, s.opts.RequestTimeout),
		ReadTimeout:       s.opts.RequestTimeout,
		WriteTimeout:      s.opts.RequestTimeout + writeMargin,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// in-flight requests must outlive ctx, which starts the shutdown
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.draining.Store(false)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	rctx, stopRefresh := context.WithCancel(ctx)
	refreshed := make(chan struct{})
	go func() {
		defer close(refreshed)
		s.refresh(rctx)
	}()
	defer func() {
		stopRefresh()
		<-refreshed
	}()
	s.log.InfoContext(ctx, "serving", "addr", l.Addr().String(), "auth", s.opts.Token != "")
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.InfoContext(ctx, "shutting down: draining in-flight requests", "timeout", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		<-served
		return fmt.Errorf("shutdown: in-flight requests did not finish within %v: %w", s.opts.ShutdownTimeout, err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// authorize requires the bearer token. The tokens' digests are compared,
// in constant time, so that neither the content nor the length leaks.
func (s *Server) authorize(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], s.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="emac"`)
			writeError(w, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer <token>), and this one is missing or wrong")
			return
		}
		h(w, r)
	}
}

// promLogger sends promhttp's errors to the server's log.
type promLogger struct{ log *slog.Logger }

func (p promLogger) Println(v ...any) {
	p.log.Error("serving /metrics", "error", strings.TrimSpace(fmt.Sprintln(v...)))
}
