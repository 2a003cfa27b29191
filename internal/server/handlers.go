package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/observe"
	"github.com/emac-dev/emac/internal/service"
)

// statusClientClosed is logged when the client left before the answer
// (nginx's convention): not an error of the server's.
const statusClientClosed = 499

// root is the handler of every request: it sets the deadline, recovers
// panics into 500, then logs and counts the request.
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	// the mux sets the pattern and path values on this request
	r = r.WithContext(ctx)
	rec := &recorder{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			stack := debug.Stack()
			if pe, ok := p.(*panicError); ok {
				p, stack = pe.value, pe.stack
			}
			s.log.ErrorContext(ctx, "panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(stack))
			if rec.code == 0 {
				writeError(rec, http.StatusInternalServerError, fmt.Sprintf("internal error: %v", p))
			}
		}
		s.done(r, rec, time.Since(start))
	}()
	s.dispatch(rec, r)
}

// dispatch routes r. A request no route takes gets the mux's answer, 404
// or 405 with Allow, in JSON like every other error.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	c := &capture{header: http.Header{}}
	h.ServeHTTP(c, r)
	code := c.code
	if code == 0 {
		code = http.StatusNotFound
	}
	msg := "no such endpoint: " + r.Method + " " + r.URL.Path
	if allow := c.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
		msg = fmt.Sprintf("%s %s is not allowed (allow: %s)", r.Method, r.URL.Path, allow)
	}
	writeError(w, code, msg)
}

// done logs and counts a finished request.
func (s *Server) done(r *http.Request, rec *recorder, d time.Duration) {
	code := rec.code
	if code == 0 {
		code = http.StatusOK // nothing written: net/http answers 200
	}
	label, ok := s.labels[r.Pattern]
	if !ok {
		label = "other"
	}
	s.http.requests.WithLabelValues(label, strconv.Itoa(code)).Inc()
	s.http.duration.WithLabelValues(label).Observe(d.Seconds())
	level := slog.LevelInfo
	switch label {
	case "healthz", "readyz", "metrics":
		level = slog.LevelDebug // probes and scrapes would drown the rest
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", code),
		slog.Duration("duration", d), slog.String("handler", label), slog.Int64("bytes", rec.bytes)}
	if j := r.PathValue("name"); j != "" {
		attrs = append(attrs, slog.String("journey", j))
	}
	if a := r.PathValue("action"); a != "" {
		attrs = append(attrs, slog.String("action", a))
	}
	s.log.LogAttrs(context.WithoutCancel(ctx), level, "request", attrs...)
}

// recorder remembers the status and size of an answer.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// capture keeps the status and headers of the mux's own 404 and 405.
type capture struct {
	header http.Header
	code   int
}

func (c *capture) Header() http.Header         { return c.header }
func (c *capture) Write(b []byte) (int, error) { return len(b), nil }
func (c *capture) WriteHeader(code int)        { c.code = code }

// errorBody is every error's answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"the answer could not be encoded: `+strings.ReplaceAll(err.Error(), `"`, `'`)+`"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// decisions are live: a cache between the controller and emac
	// would replay an old one
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// panicError carries a panic of the backend out of the goroutine it ran
// in, to be recovered in the request's own.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// call runs f in a goroutine of its own and waits for it at most until
// ctx is done: the Governor evaluates without the caller's context (one
// caller gone must not fail the others waiting on the same evaluation), so
// ctx alone would not bound the wait. A panic in f becomes a *panicError:
// left in that goroutine it would crash the process.
func call[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- result{err: &panicError{value: p, stack: debug.Stack()}}
			}
		}()
		v, err := f(ctx)
		ch <- result{v: v, err: err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// fail answers a backend's error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var nf *service.NotFoundError
	var ce *observe.CanaryError
	var pe *panicError
	ctxErr := r.Context().Err()
	switch {
	case errors.As(err, &pe):
		panic(pe) // root logs it with its stack and answers 500
	case errors.As(err, &nf):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.As(err, &ce):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(ctxErr, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("no answer within %v, the request timeout", s.opts.RequestTimeout))
	case ctxErr != nil:
		writeError(w, statusClientClosed, "the client closed the request")
	default:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// evaluate gates a journey through call. A result without canaries is
// the journey's live model: it refreshes /metrics, even when it comes
// after the request's deadline. A canary's result is the canary's, not
// the journey's, and does not.
func (s *Server) evaluate(ctx context.Context, journey string, canaries []observe.Canary) (*v1alpha1.JourneyResult, error) {
	return call(ctx, func(ctx context.Context) (*v1alpha1.JourneyResult, error) {
		res, err := s.b.Gate(ctx, journey, canaries)
		var nf *service.NotFoundError
		switch {
		case errors.As(err, &nf):
			s.models.forget(journey)
		case err == nil && res == nil:
			err = fmt.Errorf("journey %s: the backend returned no result", journey)
		case err == nil && len(canaries) == 0:
			s.models.record(journey, res, time.Now())
		}
		return res, err
	})
}

// parseCanaries reads component=selector pairs.
func parseCanaries(pairs []string) ([]observe.Canary, error) {
	var out []observe.Canary
	for _, p := range pairs {
		if strings.TrimSpace(p) == "" {
			continue
		}
		c, err := observe.ParseCanary(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// journeys answers GET /v1/journeys.
func (s *Server) journeys(w http.ResponseWriter, r *http.Request) {
	names := s.b.Journeys()
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, struct {
		Journeys []string `json:"journeys"`
	}{names})
}

// gate answers GET /v1/journeys/{name}/gate?canary=component=selector…
// with the JourneyResult as is, 200 whatever the decision: Argo Rollouts
// reads the decision from the body.
func (s *Server) gate(w http.ResponseWriter, r *http.Request) {
	canaries, err := parseCanaries(r.URL.Query()["canary"])
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := s.evaluate(r.Context(), r.PathValue("name"), canaries)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// FlaggerPayload is the body of Flagger's webhook calls.
type FlaggerPayload struct {
	// Name and Namespace are the Flagger Canary's.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Phase is the canary's, e.g. Progressing, Promoting.
	Phase string `json:"phase"`
	// Checksum identifies the canary's configuration.
	Checksum string `json:"checksum,omitempty"`
	// Metadata is the webhook's metadata. Its "canary" value holds
	// component=selector pairs, one a line (a YAML block scalar for more
	// than one), e.g. payments={pod=~"payments-canary-.*"}.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// FlaggerAnswer is the body of the flagger endpoint's answers; Flagger
// logs it when the status halts the canary.
type FlaggerAnswer struct {
	Journey  string `json:"journey"`
	Decision string `json:"decision"`
	// Allowed is true for PASS, the only decision that lets the canary
	// advance.
	Allowed bool     `json:"allowed"`
	Reasons []string `json:"reasons"`
	// Canary is the Flagger Canary as namespace/name.
	Canary   string `json:"canary,omitempty"`
	Phase    string `json:"phase,omitempty"`
	Checksum string `json:"checksum,omitempty"`
}

// flaggerStatus is the status of a decision for Flagger, which lets only a
// 2xx advance the canary.
func flaggerStatus(decision string) int {
	switch decision {
	case v1alpha1.DecisionPass:
		return http.StatusOK
	case v1alpha1.DecisionFail:
		return http.StatusForbidden
	default: // REVIEW, or none: never advance on what is not a PASS
		return http.StatusConflict
	}
}

// flagger answers Flagger's webhook POST /v1/journeys/{name}/flagger.
// Canaries come from the metadata's "canary" value and the URL's canary
// parameters.
func (s *Server) flagger(w http.ResponseWriter, r *http.Request) {
	var p FlaggerPayload
	if !s.decode(w, r, &p, false) {
		return
	}
	pairs := r.URL.Query()["canary"]
	if v, ok := p.Metadata["canary"]; ok {
		pairs = append(pairs, strings.Split(v, "\n")...)
	}
	canaries, err := parseCanaries(pairs)
	if err != nil {
		writeError(w, http.StatusBadRequest, "metadata canary: "+err.Error())
		return
	}
	journey := r.PathValue("name")
	res, err := s.evaluate(r.Context(), journey, canaries)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ans := FlaggerAnswer{Journey: journey, Decision: res.Decision, Allowed: res.Decision == v1alpha1.DecisionPass,
		Reasons: res.Reasons, Phase: p.Phase, Checksum: p.Checksum}
	if ans.Reasons == nil {
		ans.Reasons = []string{}
	}
	if p.Name != "" {
		ans.Canary = p.Namespace + "/" + p.Name
	}
	writeJSON(w, flaggerStatus(res.Decision), ans)
}

// ActionRequest is the body of POST /v1/journeys/{name}/actions/{action}.
type ActionRequest struct {
	// Params are the action's parameters the guard and limits read, e.g.
	// {"trafficStep": 0.1}.
	Params map[string]any `json:"params"`
	// DryRun decides without recording the action against its rate
	// limit.
	DryRun bool `json:"dryRun"`
}

// action answers POST /v1/journeys/{name}/actions/{action}: the
// GuardResult, 200 when allowed and 403 when denied. Unknown fields are
// refused, since a misspelt dryRun would record the action.
//
// An answer past the request timeout is 504, and the backend may still
// record the action: the rate limit then counts an action that did not
// happen, the safe way to be wrong.
func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	var req ActionRequest
	if !s.decode(w, r, &req, true) {
		return
	}
	journey, action := r.PathValue("name"), r.PathValue("action")
	res, err := call(r.Context(), func(ctx context.Context) (*v1alpha1.GuardResult, error) {
		res, err := s.b.Guard(ctx, journey, action, req.Params, req.DryRun)
		if err == nil && res == nil {
			err = fmt.Errorf("journey %s action %s: the backend returned no result", journey, action)
		}
		return res, err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if !res.Allowed {
		code = http.StatusForbidden
	}
	writeJSON(w, code, res)
}

// decode reads a JSON body of at most maxBody bytes into v; an empty body
// leaves v zero. It answers the error itself and reports whether to go on.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any, strict bool) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return true
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBody))
	default:
		writeError(w, http.StatusBadRequest, "the body is not valid JSON for this endpoint: "+err.Error())
	}
	return false
}

// healthz answers the liveness probe: the process serves.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// readyz answers the readiness probe: Options.Ready, and not shutting
// down.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	writeText(w, http.StatusOK, "ok")
}

// refreshParallel bounds the journeys evaluated at once by the refresher,
// so that it leaves Prometheus and the CPUs to the requests.
const refreshParallel = 4

// refresh evaluates every journey now and each Options.Refresh until ctx
// is done, so that /metrics shows a live model even when no controller
// asks. Journeys the backend no longer lists leave /metrics.
func (s *Server) refresh(ctx context.Context) {
	if s.opts.Refresh < 0 {
		return
	}
	t := time.NewTicker(s.opts.Refresh)
	defer t.Stop()
	for {
		s.refreshOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) refreshOnce(ctx context.Context) {
	names, err := call(ctx, func(context.Context) ([]string, error) { return s.b.Journeys(), nil })
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "refresh: listing the journeys failed", "error", err.Error())
		}
		return
	}
	s.models.keep(names)
	var g errgroup.Group
	g.SetLimit(refreshParallel)
	for _, n := range names {
		g.Go(func() error {
			ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
			defer cancel()
			if _, err := s.evaluate(ctx, n, nil); err != nil && !errors.Is(err, context.Canceled) {
				s.log.WarnContext(ctx, "refresh: evaluating a journey failed", "journey", n, "error", err.Error())
			}
			return nil
		})
	}
	g.Wait()
}
