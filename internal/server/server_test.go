package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/observe"
	"github.com/emac-dev/emac/internal/service"
)

// evaluatedAt is when the fake's results say they measured.
var evaluatedAt = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// checkout is the paper's checkout journey as observed mode decides it.
func checkout(decision string, at time.Time, binding ...string) *v1alpha1.JourneyResult {
	upper := 0.35
	if binding == nil {
		binding = []string{"payment-network"}
	}
	return &v1alpha1.JourneyResult{
		Name: "checkout", Decision: decision, Mode: v1alpha1.ModeObserved, Confidence: 0.9,
		Reasons: []string{"A- 0.99251449 (binding: payment-network) is below the objective 0.995"},
		Flow:    "Series(front, All(cart, pricing), Race(paya, payb))",
		Availability: v1alpha1.AvailabilityResult{Target: 0.995, Window: "30d", Optimistic: 0.99747706,
			Pessimistic: 0.99251449, Floor: 0.9925, Binding: binding, Exact: true},
		Latency:      &v1alpha1.LatencyResult{Percentile: 0.99, Threshold: 0.4, Upper: &upper, Status: "met"},
		Contributors: []v1alpha1.Contributor{{Component: "paya", Share: 0.4, Importance: 0.5, Availability: 0.995}},
		Required:     []v1alpha1.RequiredTarget{},
		Observation: &v1alpha1.Observation{Prometheus: "http://prometheus:9090", At: at.Format(time.RFC3339),
			Window: "1h", ObjectiveWindow: "30d", Sufficient: true,
			Components: []v1alpha1.ObservedComponent{{Name: "paya", Status: v1alpha1.ObservedOK, Availability: 0.995, Target: 0.995}}},
	}
}

// fake is a Backend answering from fixed results.
type fake struct {
	mu       sync.Mutex
	results  map[string]*v1alpha1.JourneyResult
	actions  map[string]bool // allowed, by action
	gateHook func(ctx context.Context, journey string) error
	canaries [][]observe.Canary
}

func newFake(results ...*v1alpha1.JourneyResult) *fake {
	f := &fake{results: map[string]*v1alpha1.JourneyResult{}, actions: map[string]bool{"scale-down": true, "shift-traffic": false}}
	for _, r := range results {
		f.results[r.Name] = r
	}
	return f
}

func (f *fake) set(r *v1alpha1.JourneyResult) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[r.Name] = r
}

func (f *fake) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.results, name)
}

func (f *fake) Journeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.results {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (f *fake) Gate(ctx context.Context, journey string, canaries []observe.Canary) (*v1alpha1.JourneyResult, error) {
	if f.gateHook != nil {
		if err := f.gateHook(ctx, journey); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.canaries = append(f.canaries, canaries)
	r, ok := f.results[journey]
	if !ok {
		return nil, &service.NotFoundError{What: "journey", Name: journey, Candidates: []string{"checkout"}}
	}
	return r, nil
}

func (f *fake) Guard(ctx context.Context, journey, action string, params map[string]any, dryRun bool) (*v1alpha1.GuardResult, error) {
	if _, err := f.Gate(ctx, journey, nil); err != nil {
		return nil, err
	}
	allowed, ok := f.actions[action]
	if !ok {
		return nil, &service.NotFoundError{What: "action of journey " + journey, Name: action}
	}
	res := &v1alpha1.GuardResult{Journey: journey, Action: action, Allowed: allowed, Recorded: allowed && !dryRun,
		Reasons: []string{"the guard does not hold: A_minus >= objective.availability"}, Variables: map[string]any{"params": params}}
	return res, nil
}

// do sends a request to h and returns the status and body.
func do(t *testing.T, h http.Handler, method, target, body string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

// field reads a top-level field of a JSON object.
func field(t *testing.T, b []byte, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", b, err)
	}
	return m[name]
}

func TestEndpoints(t *testing.T) {
	big := `{"params": {"x": "` + strings.Repeat("a", maxBody) + `"}}`
	tests := []struct {
		name, method, target, body string
		wantCode                   int
		wantField                  string // a top-level field of the JSON body
		want                       any    // its value, or for "error" a substring of it
	}{
		{"journeys", "GET", "/v1/journeys", "", 200, "journeys", []any{"checkout", "login"}},
		{"gate", "GET", "/v1/journeys/checkout/gate", "", 200, "decision", "FAIL"},
		{"gate canary", "GET", "/v1/journeys/checkout/gate?canary=" + urlEscape(`paya={pod=~"paya-canary-.*"}`), "", 200, "decision", "FAIL"},
		{"gate bad canary", "GET", "/v1/journeys/checkout/gate?canary=paya", "", 400, "error", "want component=selector"},
		{"gate bad selector", "GET", "/v1/journeys/checkout/gate?canary=" + urlEscape(`paya={pod=`), "", 400, "error", "selector"},
		{"gate unknown journey", "GET", "/v1/journeys/chekout/gate", "", 404, "error", `no journey "chekout"`},
		{"gate backend error", "GET", "/v1/journeys/broken/gate", "", 500, "error", "evaluation failed"},
		{"action allowed", "POST", "/v1/journeys/checkout/actions/scale-down", `{"params": {"trafficStep": 0.1}, "dryRun": true}`, 200, "allowed", true},
		{"action empty body", "POST", "/v1/journeys/checkout/actions/scale-down", "", 200, "recorded", true},
		{"action denied", "POST", "/v1/journeys/checkout/actions/shift-traffic", `{"params": {}}`, 403, "allowed", false},
		{"action unknown", "POST", "/v1/journeys/checkout/actions/reboot", `{}`, 404, "error", `no action of journey checkout "reboot"`},
		{"action unknown journey", "POST", "/v1/journeys/nope/actions/scale-down", `{}`, 404, "error", `no journey "nope"`},
		{"action bad json", "POST", "/v1/journeys/checkout/actions/scale-down", `{"params":`, 400, "error", "not valid JSON"},
		{"action misspelt field", "POST", "/v1/journeys/checkout/actions/scale-down", `{"dry_run": true}`, 400, "error", "dry_run"},
		{"action two values", "POST", "/v1/journeys/checkout/actions/scale-down", `{} {}`, 400, "error", "more than one"},
		{"action too large", "POST", "/v1/journeys/checkout/actions/scale-down", big, 413, "error", "larger than"},
		{"unknown path", "GET", "/v2/nothing", "", 404, "error", "no such endpoint"},
		{"wrong method", "POST", "/v1/journeys/checkout/gate", "", 405, "error", "allow: GET, HEAD"},
	}
	login := checkout(v1alpha1.DecisionPass, evaluatedAt)
	login.Name = "login"
	f := newFake(checkout(v1alpha1.DecisionFail, evaluatedAt), login)
	f.gateHook = func(_ context.Context, j string) error {
		if j == "broken" {
			return errors.New("evaluation failed: the bounds could not be computed")
		}
		return nil
	}
	h := New(f, Options{}).Handler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, body := do(t, h, tt.method, tt.target, tt.body, nil)
			if code != tt.wantCode {
				t.Fatalf("status: got %d, want %d (body %s)", code, tt.wantCode, body)
			}
			if got := hdr.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", got)
			}
			got := field(t, body, tt.wantField)
			if want, ok := tt.want.(string); ok && tt.wantField == "error" {
				if s, _ := got.(string); !strings.Contains(s, want) {
					t.Errorf("error: got %q, want it to contain %q", s, want)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s: got %v, want %v", tt.wantField, got, tt.want)
			}
		})
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer("=", "%3D", "{", "%7B", "}", "%7D", `"`, "%22", "~", "%7E", "*", "%2A")
	// only the first = separates the parameter's name from its value
	return r.Replace(s)
}

func TestGateIsTheResultAsIs(t *testing.T) {
	want := checkout(v1alpha1.DecisionFail, evaluatedAt)
	f := newFake(want)
	h := New(f, Options{}).Handler()
	code, _, body := do(t, h, "GET", "/v1/journeys/checkout/gate?canary="+urlEscape(`paya={pod=~"paya-canary-.*"}`)+"&canary="+urlEscape(`payb=rollouts_pod_template_hash="5d4f8"`), "", nil)
	if code != 200 {
		t.Fatalf("status: got %d, want 200", code)
	}
	var got v1alpha1.JourneyResult
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("result: got … want …, (-want +got):\n%s", diff)
	}
	wantCanaries := []observe.Canary{{Component: "paya", Selector: `{pod=~"paya-canary-.*"}`}, {Component: "payb", Selector: `rollouts_pod_template_hash="5d4f8"`}}
	if diff := cmp.Diff([][]observe.Canary{wantCanaries}, f.canaries); diff != "" {
		t.Errorf("canaries: got %v, want %v", f.canaries, wantCanaries)
	}
}

func TestProbes(t *testing.T) {
	tests := []struct {
		name     string
		ready    func() error
		target   string
		wantCode int
		wantBody string
	}{
		{"healthz", nil, "/healthz", 200, "ok\n"},
		{"readyz without a check", nil, "/readyz", 200, "ok\n"},
		{"readyz ready", func() error { return nil }, "/readyz", 200, "ok\n"},
		{"readyz not ready", func() error { return errors.New("specs not loaded") }, "/readyz", 503, `{"error":"not ready: specs not loaded"}` + "\n"},
		{"healthz when not ready", func() error { return errors.New("specs not loaded") }, "/healthz", 200, "ok\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(newFake(), Options{Ready: tt.ready, Token: "s3cret"}).Handler()
			code, _, body := do(t, h, "GET", tt.target, "", nil)
			if code != tt.wantCode || string(body) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	const token = "s3cret-t0ken"
	tests := []struct {
		name        string
		openFlagger bool
		method      string
		target      string
		auth        string // the Authorization header, "" for none
		wantCode    int
	}{
		{"gate without token", false, "GET", "/v1/journeys/checkout/gate", "", 401},
		{"gate wrong token", false, "GET", "/v1/journeys/checkout/gate", "Bearer wrong", 401},
		{"gate token prefix", false, "GET", "/v1/journeys/checkout/gate", "Bearer s3cret", 401},
		{"gate wrong scheme", false, "GET", "/v1/journeys/checkout/gate", "Basic " + token, 401},
		{"gate right token", false, "GET", "/v1/journeys/checkout/gate", "Bearer " + token, 200},
		{"gate scheme case", false, "GET", "/v1/journeys/checkout/gate", "bearer " + token, 200},
		{"journeys without token", false, "GET", "/v1/journeys", "", 401},
		{"journeys right token", false, "GET", "/v1/journeys", "Bearer " + token, 200},
		{"action without token", false, "POST", "/v1/journeys/checkout/actions/scale-down", "", 401},
		{"action right token", false, "POST", "/v1/journeys/checkout/actions/scale-down", "Bearer " + token, 200},
		{"metrics without token", false, "GET", "/metrics", "", 401},
		{"metrics wrong token", false, "GET", "/metrics", "Bearer wrong", 401},
		{"metrics right token", false, "GET", "/metrics", "Bearer " + token, 200},
		{"flagger without token", false, "POST", "/v1/journeys/checkout/flagger", "", 401},
		{"flagger right token", false, "POST", "/v1/journeys/checkout/flagger", "Bearer " + token, 200},
		{"flagger open without token", true, "POST", "/v1/journeys/checkout/flagger", "", 200},
		{"open flagger leaves gate closed", true, "GET", "/v1/journeys/checkout/gate", "", 401},
		{"healthz without token", false, "GET", "/healthz", "", 200},
		{"readyz without token", false, "GET", "/readyz", "", 200},
	}
	f := newFake(checkout(v1alpha1.DecisionPass, evaluatedAt))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(f, Options{Token: token, OpenFlagger: tt.openFlagger}).Handler()
			hdr := map[string]string{}
			if tt.auth != "" {
				hdr["Authorization"] = tt.auth
			}
			code, rh, body := do(t, h, tt.method, tt.target, "", hdr)
			if code != tt.wantCode {
				t.Fatalf("status: got %d, want %d (%s)", code, tt.wantCode, body)
			}
			if code == 401 {
				if got := rh.Get("WWW-Authenticate"); got != `Bearer realm="emac"` {
					t.Errorf("WWW-Authenticate: got %q, want Bearer", got)
				}
				if bytes.Contains(body, []byte(token)) {
					t.Errorf("the answer %s shows the token", body)
				}
			}
		})
	}
	// no token: everything open
	h := New(f, Options{}).Handler()
	if code, _, _ := do(t, h, "GET", "/metrics", "", nil); code != 200 {
		t.Errorf("without Token, /metrics: got %d, want 200", code)
	}
}

// argoMeasure is what Argo Rollouts' web metric provider does with the
// gate: GET the URL, any non-2xx is an Error of the measurement; apply the
// jsonPath {$.decision} to the body, then successCondition
// result == "PASS" and failureCondition result == "FAIL"; neither is
// Inconclusive.
func argoMeasure(client *http.Client, url, token string) (phase string, err error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return "Error", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "Error", err
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return "Error", errors.New(resp.Status)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return "Error", err
	}
	result, _ := doc["decision"].(string) // {$.decision}
	switch {
	case result == "PASS":
		return "Successful", nil
	case result == "FAIL":
		return "Failed", nil
	default:
		return "Inconclusive", nil
	}
}

func TestArgoRolloutsWebProvider(t *testing.T) {
	tests := []struct {
		decision string
		want     string
	}{
		{v1alpha1.DecisionPass, "Successful"},
		{v1alpha1.DecisionFail, "Failed"},
		{v1alpha1.DecisionReview, "Inconclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.decision, func(t *testing.T) {
			ts := httptest.NewServer(New(newFake(checkout(tt.decision, evaluatedAt)), Options{Token: "argo"}).Handler())
			defer ts.Close()
			url := ts.URL + "/v1/journeys/checkout/gate?canary=" + urlEscape(`paya={rollouts_pod_template_hash="5d4f8"}`)
			got, err := argoMeasure(ts.Client(), url, "argo")
			if err != nil || got != tt.want {
				t.Errorf("measurement: got %s (%v), want %s", got, err, tt.want)
			}
		})
	}
}

func TestFlaggerWebhook(t *testing.T) {
	// the body Flagger POSTs to a webhook (CanaryWebhookPayload), with
	// the canaries in the webhook's metadata as a YAML block scalar gives
	// them
	payload := `{
  "name": "payments",
  "namespace": "shop",
  "phase": "Progressing",
  "checksum": "6d8f8b9c7f",
  "metadata": {
    "canary": "paya={pod=~\"paya-canary-.*\"}\npayb={rollouts_pod_template_hash=\"5d4f8\"}\n",
    "owner": "payments-team"
  }
}`
	wantCanaries := []observe.Canary{{Component: "paya", Selector: `{pod=~"paya-canary-.*"}`}, {Component: "payb", Selector: `{rollouts_pod_template_hash="5d4f8"}`}}
	tests := []struct {
		name         string
		decision     string
		payload      string
		wantCode     int
		wantAllowed  bool
		wantCanaries []observe.Canary
	}{
		{"pass", v1alpha1.DecisionPass, payload, 200, true, wantCanaries},
		{"fail", v1alpha1.DecisionFail, payload, 403, false, wantCanaries},
		{"review", v1alpha1.DecisionReview, payload, 409, false, wantCanaries},
		{"no canary", v1alpha1.DecisionPass, `{"name":"payments","namespace":"shop","phase":"Promoting","checksum":"x"}`, 200, true, nil},
		{"bad canary", v1alpha1.DecisionPass, `{"name":"payments","metadata":{"canary":"paya"}}`, 400, false, nil},
		{"not json", v1alpha1.DecisionPass, `name=payments`, 400, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(checkout(tt.decision, evaluatedAt))
			ts := httptest.NewServer(New(f, Options{Token: "t", OpenFlagger: true}).Handler())
			defer ts.Close()
			// as Flagger calls it: a POST of JSON, no headers of ours
			resp, err := ts.Client().Post(ts.URL+"/v1/journeys/checkout/flagger", "application/json", strings.NewReader(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status: got %d, want %d (%s)", resp.StatusCode, tt.wantCode, body)
			}
			// Flagger advances only on 2xx (its webhook call fails above 202)
			if advanced := resp.StatusCode <= 202; advanced != tt.wantAllowed {
				t.Errorf("Flagger advances: got %v, want %v", advanced, tt.wantAllowed)
			}
			if tt.wantCode == 400 {
				return
			}
			var ans FlaggerAnswer
			if err := json.Unmarshal(body, &ans); err != nil {
				t.Fatal(err)
			}
			want := FlaggerAnswer{Journey: "checkout", Decision: tt.decision, Allowed: tt.wantAllowed,
				Reasons: checkout(tt.decision, evaluatedAt).Reasons, Canary: "shop/payments", Phase: ans.Phase, Checksum: ans.Checksum}
			if diff := cmp.Diff(want, ans); diff != "" {
				t.Errorf("answer: got %+v, want %+v", ans, want)
			}
			if len(f.canaries) != 1 || !cmp.Equal(tt.wantCanaries, f.canaries[0]) {
				t.Errorf("canaries: got %v, want %v", f.canaries, tt.wantCanaries)
			}
		})
	}
}

// scrape parses /metrics.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	code, _, body := do(t, h, "GET", "/metrics", "", nil)
	if code != 200 {
		t.Fatalf("/metrics: got %d, want 200", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return mfs
}

// series lists a family's series as "label=value,…" → value.
func series(mfs map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	mf, ok := mfs[name]
	if !ok {
		return out
	}
	for _, m := range mf.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		v := m.GetGauge().GetValue()
		if m.Counter != nil {
			v = m.GetCounter().GetValue()
		}
		if m.Histogram != nil {
			v = float64(m.GetHistogram().GetSampleCount())
		}
		out[strings.Join(ls, ",")] = v
	}
	return out
}

func TestMetrics(t *testing.T) {
	insufficient := checkout(v1alpha1.DecisionReview, evaluatedAt)
	insufficient.Name, insufficient.Latency = "login", nil
	insufficient.Observation.Sufficient = false
	f := newFake(checkout(v1alpha1.DecisionFail, evaluatedAt), insufficient)
	h := New(f, Options{}).Handler()
	for _, target := range []string{"/v1/journeys/checkout/gate", "/v1/journeys/login/gate", "/v1/journeys/nope/gate"} {
		do(t, h, "GET", target, "", nil)
	}
	at := float64(evaluatedAt.Unix())
	tests := []struct {
		family string
		want   map[string]float64
	}{
		{"emac_journey_availability", map[string]float64{
			"bound=optimistic,journey=checkout": 0.99747706, "bound=pessimistic,journey=checkout": 0.99251449, "bound=floor,journey=checkout": 0.9925}},
		{"emac_journey_objective", map[string]float64{"journey=checkout": 0.995, "journey=login": 0.995}},
		{"emac_journey_confidence", map[string]float64{"journey=checkout": 0.9, "journey=login": 0.9}},
		{"emac_journey_decision", map[string]float64{
			"decision=PASS,journey=checkout": 0, "decision=FAIL,journey=checkout": 1, "decision=REVIEW,journey=checkout": 0,
			"decision=PASS,journey=login": 0, "decision=FAIL,journey=login": 0, "decision=REVIEW,journey=login": 1}},
		{"emac_journey_binding_scenario", map[string]float64{"domains=payment-network,journey=checkout": 1}},
		{"emac_journey_latency_upper_seconds", map[string]float64{"journey=checkout": 0.35}},
		{"emac_journey_evaluation_timestamp_seconds", map[string]float64{"journey=checkout": at, "journey=login": at}},
		{"emac_journey_observation_sufficient", map[string]float64{"journey=checkout": 1, "journey=login": 0}},
		{"emac_http_requests_total", map[string]float64{"code=200,handler=gate": 2, "code=404,handler=gate": 1}},
		{"emac_http_request_duration_seconds", map[string]float64{"handler=gate": 3}},
	}
	mfs := scrape(t, h)
	for _, tt := range tests {
		t.Run(tt.family, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, series(mfs, tt.family)); diff != "" {
				t.Errorf("got … want … (-want +got):\n%s", diff)
			}
		})
	}
	if _, ok := mfs["go_goroutines"]; !ok {
		t.Errorf("go_goroutines: got none, want the Go collector's series")
	}

	// a new binding scenario replaces the old series; a canary's
	// evaluation is the canary's and leaves the journey's model alone
	later := evaluatedAt.Add(time.Minute)
	f.set(checkout(v1alpha1.DecisionPass, later, "k8s/zone", "k8s/cluster"))
	do(t, h, "GET", "/v1/journeys/checkout/gate", "", nil)
	f.set(checkout(v1alpha1.DecisionFail, later.Add(time.Minute), "canary-only"))
	do(t, h, "GET", "/v1/journeys/checkout/gate?canary="+urlEscape(`paya={pod="x"}`), "", nil)
	// the journey is gone
	f.remove("login")
	do(t, h, "GET", "/v1/journeys/login/gate", "", nil)
	mfs = scrape(t, h)
	after := []struct {
		family string
		want   map[string]float64
	}{
		{"emac_journey_binding_scenario", map[string]float64{"domains=k8s/cluster,k8s/zone,journey=checkout": 1}},
		{"emac_journey_decision", map[string]float64{"decision=PASS,journey=checkout": 1, "decision=FAIL,journey=checkout": 0, "decision=REVIEW,journey=checkout": 0}},
		{"emac_journey_evaluation_timestamp_seconds", map[string]float64{"journey=checkout": float64(later.Unix())}},
	}
	for _, tt := range after {
		if diff := cmp.Diff(tt.want, series(mfs, tt.family)); diff != "" {
			t.Errorf("%s after a change: got … want … (-want +got):\n%s", tt.family, diff)
		}
	}
}

// serve runs s on a loopback listener until the returned stop is called;
// stop returns Serve's error.
func serve(t *testing.T, s *Server) (base string, stop func() error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	var once sync.Once
	var serr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serr = <-done:
			case <-time.After(10 * time.Second):
				serr = errors.New("Serve did not return within 10s of its context's cancellation")
			}
		})
		return serr
	}
	t.Cleanup(func() { stop() })
	return "http://" + l.Addr().String(), stop
}

func TestRefresh(t *testing.T) {
	f := newFake(checkout(v1alpha1.DecisionFail, evaluatedAt))
	login := checkout(v1alpha1.DecisionPass, evaluatedAt)
	login.Name = "login"
	f.set(login)
	s := New(f, Options{Refresh: 10 * time.Millisecond})
	serve(t, s)
	h := s.Handler()
	wait := func(want map[string]float64) {
		t.Helper()
		var got map[string]float64
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if got = series(scrape(t, h), "emac_journey_objective"); cmp.Equal(got, want) {
				return
			}
		}
		t.Fatalf("journeys refreshed: got %v, want %v", got, want)
	}
	// no request asked: the refresher evaluated both
	wait(map[string]float64{"journey=checkout": 0.995, "journey=login": 0.995})
	f.remove("login")
	wait(map[string]float64{"journey=checkout": 0.995})
}

func TestGracefulShutdown(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	f := newFake(checkout(v1alpha1.DecisionPass, evaluatedAt))
	f.gateHook = func(ctx context.Context, j string) error {
		close(arrived)
		<-release // a slow evaluation, in flight when the shutdown begins
		return nil
	}
	s := New(f, Options{Refresh: -1})
	base, stop := serve(t, s)
	type answer struct {
		code int
		body []byte
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Get(base + "/v1/journeys/checkout/gate")
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- answer{resp.StatusCode, b, err}
	}()
	<-arrived
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// draining: not ready, and no new connection
	for deadline := time.Now().Add(5 * time.Second); !s.draining.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server did not begin to drain")
		}
	}
	if code, _, _ := do(t, s.Handler(), "GET", "/readyz", "", nil); code != 503 {
		t.Errorf("/readyz while draining: got %d, want 503", code)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	a := <-got
	if a.err != nil || a.code != 200 || field(t, a.body, "decision") != "PASS" {
		t.Fatalf("the in-flight request: got %d %s (%v), want 200 with the decision", a.code, a.body, a.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve: got %v, want nil", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("a request after the shutdown: got an answer, want a refused connection")
	}
}

func TestRequestTimeout(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	f := newFake(checkout(v1alpha1.DecisionPass, evaluatedAt))
	f.gateHook = func(ctx context.Context, j string) error {
		if j == "checkout" {
			<-block // ignores ctx, as the Governor's shared evaluations do
		}
		return nil
	}
	tests := []struct {
		name, method, target string
	}{
		{"gate", "GET", "/v1/journeys/checkout/gate"},
		{"flagger", "POST", "/v1/journeys/checkout/flagger"},
		{"action", "POST", "/v1/journeys/checkout/actions/scale-down"},
	}
	h := New(f, Options{RequestTimeout: 50 * time.Millisecond}).Handler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			code, hdr, body := do(t, h, tt.method, tt.target, "", nil)
			if code != http.StatusGatewayTimeout || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %s %s, want 504 JSON", code, hdr.Get("Content-Type"), body)
			}
			if s, _ := field(t, body, "error").(string); !strings.Contains(s, "no answer within 50ms") {
				t.Errorf("error: got %q, want the timeout", s)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answered after %v, want about 50ms", d)
			}
		})
	}
}

func TestPanic(t *testing.T) {
	f := newFake(checkout(v1alpha1.DecisionPass, evaluatedAt))
	f.gateHook = func(ctx context.Context, j string) error {
		if j == "boom" {
			panic("index out of range in the bounds")
		}
		return nil
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	s := New(f, Options{Refresh: -1, Logger: slogTo(&logs, &mu)})
	base, _ := serve(t, s)
	tests := []struct {
		target   string
		wantCode int
	}{
		{"/v1/journeys/boom/gate", 500},
		{"/v1/journeys/checkout/gate", 200},
		{"/v1/journeys/boom/gate", 500},
		{"/healthz", 200},
	}
	for _, tt := range tests {
		resp, err := http.Get(base + tt.target)
		if err != nil {
			t.Fatalf("%s: %v", tt.target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantCode {
			t.Fatalf("%s: got %d %s, want %d", tt.target, resp.StatusCode, body, tt.wantCode)
		}
		if tt.wantCode == 500 {
			if s, _ := field(t, body, "error").(string); !strings.Contains(s, "index out of range") {
				t.Errorf("error: got %q, want the panic", s)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "panic serving a request") || !strings.Contains(logs.String(), "server_test.go") {
		t.Errorf("log: got %s, want the panic with its stack", logs.String())
	}
}

// lockedWriter serialises the writes of concurrent requests' logs.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func slogTo(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewJSONHandler(lockedWriter{mu, w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestAccessLog(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	h := New(newFake(checkout(v1alpha1.DecisionFail, evaluatedAt)), Options{Logger: slogTo(&logs, &mu), Token: "t"}).Handler()
	do(t, h, "GET", "/v1/journeys/checkout/gate", "", map[string]string{"Authorization": "Bearer t"})
	do(t, h, "POST", "/v1/journeys/checkout/actions/scale-down", "{}", nil)
	tests := []map[string]any{
		{"msg": "request", "method": "GET", "path": "/v1/journeys/checkout/gate", "status": 200.0, "handler": "gate", "journey": "checkout", "level": "INFO"},
		{"msg": "request", "method": "POST", "path": "/v1/journeys/checkout/actions/scale-down", "status": 401.0, "handler": "action", "journey": "checkout", "action": "scale-down", "level": "INFO"},
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("log lines: got %d, want %d:\n%s", len(lines), len(tests), logs.String())
	}
	for i, want := range tests {
		var got map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		if _, ok := got["duration"].(float64); !ok {
			t.Errorf("line %d: got no duration, want one: %s", i, lines[i])
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("line %d, %s: got %v, want %v", i, k, got[k], v)
			}
		}
		if strings.Contains(lines[i], "Bearer") {
			t.Errorf("line %d: got the Authorization header, want it never logged", i)
		}
	}
}
