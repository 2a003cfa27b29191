package mesh

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/google/go-cmp/cmp"
)

const (
	bookinfo     = "testdata/istio-bookinfo/samples/bookinfo/"
	emojivoto    = "testdata/linkerd-emojivoto/training/service-profiles/"
	boutique     = "testdata/online-boutique/"
	ownFixtures  = "testdata/own/"
	istioRetryOn = "connect-failure refused-stream unavailable cancelled retriable-status-codes 503 (default)"
)

// route is a Route reduced to what a test reads: its text says the
// semantics at a glance, the positions are checked separately.
type route struct {
	Name     string
	Match    []string
	Backends []string // "name p"
	Direct   string
	Timeout  string
	Retry    string
	Fault    string
	Mirrors  []string
}

func summarize(rs []Route) []route {
	var out []route
	for _, r := range rs {
		s := route{Name: r.Name.V}
		for _, m := range r.Match {
			s.Match = append(s.Match, m.V)
		}
		for _, b := range r.Backends {
			s.Backends = append(s.Backends, fmt.Sprintf("%s %.2f", b.Name(), b.P))
		}
		if r.Direct != nil {
			s.Direct = r.Direct.V
		}
		if r.Timeout != nil {
			s.Timeout = r.Timeout.V.String() + dflt(r.Timeout.Default)
		}
		if r.Retry != nil {
			s.Retry = fmt.Sprintf("attempts %d%s", r.Retry.Attempts.V, dflt(r.Retry.Attempts.Default))
			if r.Retry.PerTryTimeout != nil {
				s.Retry += " perTry " + r.Retry.PerTryTimeout.V.String()
			}
			if r.Retry.Backoff != nil {
				s.Retry += " backoff " + r.Retry.Backoff.V.String()
			}
			if len(r.Retry.On) > 0 {
				var on []string
				for _, c := range r.Retry.On {
					on = append(on, c.V)
				}
				s.Retry += " on " + strings.Join(on, " ") + dflt(r.Retry.On[0].Default)
			}
			for _, c := range r.Retry.Codes {
				s.Retry += " " + strconv.Itoa(c.V)
			}
			if b := r.Retry.Budget; b != nil {
				s.Retry += fmt.Sprintf(" budget %g+%d/s ttl %s%s", b.RetryRatio.V, b.MinRetriesPerSecond.V, b.TTL.V, dflt(b.RetryRatio.Default))
			}
		}
		if f := r.Fault; f != nil {
			if f.Delay != nil {
				s.Fault += fmt.Sprintf("delay %s %g%%", f.Delay.Fixed.V, f.Delay.Percent.V)
			}
			if f.Abort != nil {
				s.Fault += fmt.Sprintf("abort %d %g%%", f.Abort.HTTPStatus.V, f.Abort.Percent.V)
			}
		}
		for _, m := range r.Mirrors {
			s.Mirrors = append(s.Mirrors, fmt.Sprintf("%s %g%%", m.Backend.Name(), m.Percent.V))
		}
		out = append(out, s)
	}
	return out
}

func dflt(d bool) string {
	if d {
		return " (default)"
	}
	return ""
}

func read(t *testing.T, paths ...string) (*Config, []discovery.Problem) {
	t.Helper()
	c, probs, err := ReadPaths(context.Background(), paths)
	if err != nil {
		t.Fatal(err)
	}
	return c, probs
}

func mustPolicy(t *testing.T, c *Config, service string) *Policy {
	t.Helper()
	p := c.Policy(service)
	if p == nil {
		var have []string
		for _, p := range c.Policies {
			have = append(have, p.Service)
		}
		t.Fatalf("no policy for %s; have %v", service, have)
	}
	return p
}

// istioDefault is the retry Istio gives a route with no retries block.
var istioDefault = "attempts 2 (default) on " + istioRetryOn

func TestRoutes(t *testing.T) {
	tests := []struct {
		file, service string
		want          []route
	}{
		{bookinfo + "networking/virtual-service-reviews-80-20.yaml", "reviews", []route{
			{Backends: []string{"reviews/v1 0.80", "reviews/v2 0.20"}, Retry: istioDefault}}},
		{bookinfo + "networking/virtual-service-reviews-90-10.yaml", "reviews", []route{
			{Backends: []string{"reviews/v1 0.90", "reviews/v2 0.10"}, Retry: istioDefault}}},
		{bookinfo + "networking/virtual-service-reviews-50-v3.yaml", "reviews", []route{
			{Backends: []string{"reviews/v1 0.50", "reviews/v3 0.50"}, Retry: istioDefault}}},
		{bookinfo + "networking/virtual-service-reviews-test-v2.yaml", "reviews", []route{
			{Match: []string{"headers[end-user] exact jason"}, Backends: []string{"reviews/v2 1.00"}, Retry: istioDefault},
			{Backends: []string{"reviews/v1 1.00"}, Retry: istioDefault}}},
		{bookinfo + "networking/virtual-service-ratings-test-delay.yaml", "ratings", []route{
			{Match: []string{"headers[end-user] exact jason"}, Backends: []string{"ratings/v1 1.00"}, Retry: istioDefault, Fault: "delay 7s 100%"},
			{Backends: []string{"ratings/v1 1.00"}, Retry: istioDefault}}},
		{bookinfo + "networking/virtual-service-ratings-test-abort.yaml", "ratings", []route{
			{Match: []string{"headers[end-user] exact jason"}, Backends: []string{"ratings/v1 1.00"}, Retry: istioDefault, Fault: "abort 500 100%"},
			{Backends: []string{"ratings/v1 1.00"}, Retry: istioDefault}}},
		{bookinfo + "networking/fault-injection-details-v1.yaml", "details", []route{
			{Backends: []string{"details/v1 1.00"}, Retry: istioDefault, Fault: "abort 555 100%"},
			{Backends: []string{"details/v1 1.00"}, Retry: istioDefault}}},
		{bookinfo + "networking/bookinfo-gateway.yaml", "bookinfo-gateway", []route{
			{Match: []string{"uri exact /productpage", "uri prefix /static", "uri exact /login", "uri exact /logout", "uri prefix /api/v1/products"},
				Backends: []string{"productpage 1.00"}, Retry: istioDefault}}},
		{ownFixtures + "istio-resilience.yaml", "reviews", []route{
			{Name: "reviews-v2", Backends: []string{"reviews/v2 1.00"}, Timeout: "500ms", Retry: istioDefault}}},
		{ownFixtures + "istio-resilience.yaml", "ratings", []route{
			{Backends: []string{"ratings/v1 1.00"}, Timeout: "10s", Retry: "attempts 3 perTry 2s on gateway-error connect-failure refused-stream",
				Mirrors: []string{"ratings/v2 10%"}}}},
		{ownFixtures + "istio-resilience.yaml", "details", []route{
			{Backends: []string{"details/v1 1.00"}, Retry: "attempts 0"}}},
		// Gateway API (GAMMA: the parent is the Service).
		{bookinfo + "gateway-api/route-reviews-90-10.yaml", "reviews", []route{
			{Backends: []string{"reviews-v1 0.90", "reviews-v2 0.10"}}}},
		{bookinfo + "gateway-api/route-reviews-50-v3.yaml", "reviews", []route{
			{Backends: []string{"reviews-v1 0.50", "reviews-v3 0.50"}}}},
		{bookinfo + "gateway-api/route-all-v1.yaml", "ratings", []route{{Backends: []string{"ratings-v1 1.00"}}}},
		{bookinfo + "gateway-api/bookinfo-gateway.yaml", "bookinfo-gateway", []route{
			{Match: []string{"path Exact /productpage", "path PathPrefix /static", "path Exact /login", "path Exact /logout", "path PathPrefix /api/v1/products"},
				Backends: []string{"productpage 1.00"}}}},
		{ownFixtures + "gateway-resilience.yaml", "reviews", []route{
			{Name: "canary", Match: []string{"header[end-user] Exact jason && method GET"}, Backends: []string{"reviews-v2 1.00"},
				Timeout: "1s", Retry: "attempts 2 perTry 300ms backoff 100ms 500 503 504"},
			{Backends: []string{"reviews-v1 0.75", "reviews-v3 0.25"}, Mirrors: []string{"reviews-shadow 5%"}}}},
		// Linkerd.
		{emojivoto + "web-service-profile-with-retry-budget.yml", "web-svc", []route{
			{Name: "GET /api/list", Match: []string{"method GET && path ~ /api/list"}, Backends: []string{"web-svc 1.00"},
				Timeout: "10s (default)", Retry: "attempts 1 (default) budget 0.001+10/s ttl 10s"},
			{Name: "GET /api/vote", Match: []string{"method GET && path ~ /api/vote"}, Backends: []string{"web-svc 1.00"},
				Timeout: "10s (default)", Retry: "attempts 1 (default) budget 0.001+10/s ttl 10s"}}},
		{emojivoto + "web-service-profile-with-timeout.yml", "web-svc", []route{
			{Name: "GET /api/list", Match: []string{"method GET && path ~ /api/list"}, Backends: []string{"web-svc 1.00"}, Timeout: "10s (default)"},
			{Name: "GET /api/vote", Match: []string{"method GET && path ~ /api/vote"}, Backends: []string{"web-svc 1.00"},
				Timeout: "500ms", Retry: "attempts 1 (default) budget 0.2+10/s ttl 10s (default)"}}},
		{emojivoto + "emoji-svc-profile.yml", "emoji-svc", []route{
			{Name: "ListAll", Match: []string{`method POST && path ~ /emojivoto\.v1\.EmojiService/ListAll`}, Backends: []string{"emoji-svc 1.00"},
				Timeout: "10s (default)", Retry: "attempts 1 (default) budget 0.001+10/s ttl 10s"},
			{Name: "FindByShortcode", Match: []string{`method POST && path ~ /emojivoto\.v1\.EmojiService/FindByShortcode`}, Backends: []string{"emoji-svc 1.00"},
				Timeout: "10s (default)", Retry: "attempts 1 (default) budget 0.001+10/s ttl 10s"}}},
		// Online Boutique: a mesh VirtualService, an Istio ingress, a
		// Gateway API ingress.
		{boutique + "istio-manifests/frontend.yaml", "frontend", []route{{Backends: []string{"frontend 1.00"}, Retry: istioDefault}}},
		{boutique + "istio-manifests/frontend-gateway.yaml", "frontend-gateway", []route{{Backends: []string{"frontend 1.00"}, Retry: istioDefault}}},
		{boutique + "release/istio-manifests.yaml", "istio-gateway", []route{{Match: []string{"path PathPrefix /"}, Backends: []string{"frontend 1.00"}}}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file)+"/"+tt.service, func(t *testing.T) {
			c, _ := read(t, tt.file)
			got := summarize(mustPolicy(t, c, tt.service).Routes)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("routes of %s (-want +got):\n%s", tt.service, diff)
			}
		})
	}
}

// TestPositions checks that values keep the file:line:col they came from.
func TestPositions(t *testing.T) {
	f := bookinfo + "networking/virtual-service-reviews-80-20.yaml"
	c, _ := read(t, f)
	r := mustPolicy(t, c, "reviews").Routes[0]
	got := []Value[int]{r.Backends[0].Weight, r.Backends[1].Weight}
	want := []Value[int]{
		{V: 80, Pos: discovery.Pos{File: f, Line: 13, Col: 15, Record: "spec.http[0].route[0].weight"}},
		{V: 20, Pos: discovery.Pos{File: f, Line: 17, Col: 15, Record: "spec.http[0].route[1].weight"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("weights (-want +got):\n%s", diff)
	}
	if got, want := r.Source, (Source{Mesh: Istio, APIVersion: "networking.istio.io/v1", Kind: "VirtualService", Name: "reviews",
		Pos: discovery.Pos{File: f, Line: 1, Col: 1}}); got != want {
		t.Errorf("source: got %+v, want %+v", got, want)
	}

	f = emojivoto + "web-service-profile-with-timeout.yml"
	c, _ = read(t, f)
	to := mustPolicy(t, c, "web-svc").Routes[1].Timeout
	if want := (&Value[time.Duration]{V: 500 * time.Millisecond, Pos: discovery.Pos{File: f, Line: 16, Col: 14, Record: "spec.routes[1].timeout"}}); !cmp.Equal(to, want) {
		t.Errorf("timeout: got %+v, want %+v", to, want)
	}
}

func TestEmojivotoBudget(t *testing.T) {
	f := emojivoto + "web-service-profile-with-retry-budget.yml"
	c, probs := read(t, f)
	if len(probs) != 0 {
		t.Errorf("problems: %v", probs)
	}
	p := mustPolicy(t, c, "web-svc")
	if p.Namespace != "emojivoto" {
		t.Errorf("namespace: got %q, want emojivoto", p.Namespace)
	}
	pos := func(line, col int, rec string) discovery.Pos {
		return discovery.Pos{File: f, Line: line, Col: col, Record: rec}
	}
	want := &RetryBudget{
		RetryRatio:          Value[float64]{V: 0.001, Pos: pos(19, 17, "spec.retryBudget.retryRatio")},
		MinRetriesPerSecond: Value[int]{V: 10, Pos: pos(20, 26, "spec.retryBudget.minRetriesPerSecond")},
		TTL:                 Value[time.Duration]{V: 10 * time.Second, Pos: pos(21, 10, "spec.retryBudget.ttl")},
		Pos:                 pos(19, 5, "spec.retryBudget"),
	}
	if diff := cmp.Diff(want, p.RetryBudget); diff != "" {
		t.Errorf("budget (-want +got):\n%s", diff)
	}
	if got := p.Routes[0].Retry.Budget; got != p.RetryBudget {
		t.Errorf("the route's budget is not the profile's: got %+v", got)
	}
	// The budget's reading: one retry; in an outage failing half of 100
	// requests a second, 0.001*100+10 retries a second cover 10.1/50.
	b := p.RetryBudget
	if got, want := b.Attempts(), 1; got != want {
		t.Errorf("Attempts: got %d, want %d", got, want)
	}
	if got, want := b.Coverage(0.5, 100), 10.1/50; math.Abs(got-want) > 1e-12 {
		t.Errorf("Coverage(0.5, 100): got %g, want %g", got, want)
	}
	if got, want := b.Coverage(0.001, 100), 1.0; got != want {
		t.Errorf("Coverage(0.001, 100): got %g, want %g", got, want)
	}
	if got, want := (&RetryBudget{RetryRatio: Value[float64]{V: 2.5}}).Attempts(), 3; got != want {
		t.Errorf("Attempts of ratio 2.5: got %d, want %d", got, want)
	}

	c, _ = read(t, emojivoto+"voting-svc-profile.yml")
	v := mustPolicy(t, c, "voting-svc")
	retryable := 0
	for _, r := range v.Routes {
		if r.Retry != nil {
			retryable++
		}
	}
	if got, want := [2]int{len(v.Routes), retryable}, [2]int{len(v.Routes), len(v.Routes)}; got != want || len(v.Routes) < 80 {
		t.Errorf("voting-svc routes, retryable: got %v, want all of 80+", got)
	}
}

func TestDestinationRules(t *testing.T) {
	c, probs := read(t, bookinfo+"networking/destination-rule-all.yaml")
	if len(probs) != 0 {
		t.Errorf("problems: %v", probs)
	}
	got := map[string][]string{}
	for _, p := range c.Policies {
		for _, s := range p.Subsets {
			got[p.Service] = append(got[p.Service], s.Name.V+" version="+s.Labels["version"])
		}
		if len(p.Routes) != 0 || p.Outlier != nil {
			t.Errorf("%s: a DestinationRule alone made routes or outlier detection", p.Service)
		}
	}
	want := map[string][]string{
		"productpage": {"v1 version=v1"},
		"reviews":     {"v1 version=v1", "v2 version=v2", "v3 version=v3"},
		"ratings":     {"v1 version=v1", "v2 version=v2", "v2-mysql version=v2-mysql", "v2-mysql-vm version=v2-mysql-vm"},
		"details":     {"v1 version=v1", "v2 version=v2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subsets (-want +got):\n%s", diff)
	}

	f := ownFixtures + "istio-resilience.yaml"
	c, probs = read(t, f)
	if len(probs) != 0 {
		t.Errorf("problems: %v", probs)
	}
	pos := func(line, col int, rec string) discovery.Pos {
		return discovery.Pos{File: f, Line: line, Col: col, Record: rec}
	}
	ratings := c.PolicyIn("bookinfo", "ratings")
	if ratings == nil {
		t.Fatal("no policy for bookinfo/ratings")
	}
	odPos := pos(69, 7, "spec.trafficPolicy.outlierDetection")
	wantOD := &OutlierDetection{
		Consecutive5xxErrors: Value[int]{V: 7, Pos: pos(69, 29, "spec.trafficPolicy.outlierDetection.consecutive5xxErrors")},
		Interval:             Value[time.Duration]{V: 5 * time.Minute, Pos: pos(70, 17, "spec.trafficPolicy.outlierDetection.interval")},
		BaseEjectionTime:     Value[time.Duration]{V: 15 * time.Minute, Pos: pos(71, 25, "spec.trafficPolicy.outlierDetection.baseEjectionTime")},
		MaxEjectionPercent:   Value[int]{V: 10, Pos: odPos, Default: true},
		Pos:                  odPos,
	}
	if diff := cmp.Diff(wantOD, ratings.Outlier); diff != "" {
		t.Errorf("ratings outlier detection (-want +got):\n%s", diff)
	}
	var fo []string
	for _, f := range ratings.Locality.Failover {
		fo = append(fo, f.From.V+"->"+f.To.V)
	}
	if diff := cmp.Diff([]string{"us-east->eu-west", "us-west->us-east"}, fo); diff != "" {
		t.Errorf("failover (-want +got):\n%s", diff)
	}
	cp := ratings.ConnectionPool
	if cp.MaxConnections.V != 100 || cp.ConnectTimeout.V != 30*time.Millisecond || cp.HTTP1MaxPendingRequests.V != 1 || cp.MaxRequestsPerConnection.V != 1 || cp.HTTP2MaxRequests != nil {
		t.Errorf("connection pool: got %+v", cp)
	}
	if got := ratings.LoadBalancer; got == nil || got.V != "ROUND_ROBIN" {
		t.Errorf("load balancer: got %+v, want ROUND_ROBIN", got)
	}
	if !ratings.LocalityFallback() {
		t.Errorf("ratings: outlier detection with locality failover should fall back across localities")
	}
	// reviews: the deprecated consecutiveErrors counts gateway errors and
	// turns the 5xx count off; locality balancing is switched off.
	reviews := c.PolicyIn("bookinfo", "reviews")
	if od := reviews.Outlier; od.ConsecutiveGatewayErrors == nil || od.ConsecutiveGatewayErrors.V != 3 || od.Consecutive5xxErrors.V != 0 || !od.Consecutive5xxErrors.Default {
		t.Errorf("reviews outlier detection: got %+v", od)
	}
	if reviews.LocalityFallback() {
		t.Errorf("reviews: locality load balancing is disabled, want no locality fallback")
	}
	if s := reviews.Subset("v2"); s == nil || s.Traffic == nil || s.Traffic.Outlier.Consecutive5xxErrors.V != 2 {
		t.Errorf("reviews/v2's own outlier detection: got %+v", s)
	}
	if got := c.PolicyIn("bookinfo", "details"); got == nil || got.LocalityFallback() {
		t.Errorf("details: no DestinationRule, want no locality fallback")
	}
}

// TestWholeTrees reads each data set's directory at once: the merge
// reports the sample's alternatives as conflicts, kinds it does not read
// as unsupported, and plain Kubernetes manifests not at all.
func TestWholeTrees(t *testing.T) {
	count := func(probs []discovery.Problem) map[discovery.ProblemKind]int {
		m := map[discovery.ProblemKind]int{}
		for _, p := range probs {
			m[p.Kind]++
		}
		return m
	}
	tests := []struct {
		path     string
		services []string
		problems map[discovery.ProblemKind]int
	}{
		{boutique + "release/kubernetes-manifests.yaml", nil, map[discovery.ProblemKind]int{}},
		{bookinfo + "platform", nil, map[discovery.ProblemKind]int{}},
		{boutique, []string{"frontend", "frontend-gateway", "istio-gateway"},
			map[discovery.ProblemKind]int{discovery.Unsupported: 6, discovery.Corrupt: 1}},
		{emojivoto, []string{"emoji-svc", "voting-svc", "web-svc"}, map[discovery.ProblemKind]int{discovery.Corrupt: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			c, probs := read(t, tt.path)
			var got []string
			for _, p := range c.Policies {
				got = append(got, p.Service)
			}
			if diff := cmp.Diff(tt.services, got); diff != "" {
				t.Errorf("services (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.problems, count(probs)); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%v", diff, probs)
			}
		})
	}
	// In the whole Bookinfo tree the last VirtualService for reviews in
	// lexical order wins, and a route to a subset its DestinationRule
	// lacks is flagged.
	c, probs := read(t, bookinfo)
	if got, want := summarize(mustPolicy(t, c, "reviews").Routes), []route{{Backends: []string{"reviews/v3 1.00"}, Retry: istioDefault}}; !cmp.Equal(got, want) {
		t.Errorf("reviews: got %+v, want %+v", got, want)
	}
	found := false
	for _, p := range probs {
		if strings.Contains(p.Detail, `subset "v2" of details is not defined`) && strings.HasSuffix(p.Pos.File, "virtual-service-details-v2.yaml") {
			found = true
		}
	}
	if !found {
		t.Errorf("no problem for the details/v2 route whose subset the last DestinationRule lacks: %v", probs)
	}
}

func TestJSONAndLists(t *testing.T) {
	const js = `{
  "apiVersion": "v1",
  "kind": "List",
  "items": [
    {
      "apiVersion": "networking.istio.io/v1",
      "kind": "VirtualService",
      "metadata": {"name": "reviews", "namespace": "prod"},
      "spec": {
        "hosts": ["reviews.prod.svc.cluster.local"],
        "http": [{"route": [
          {"destination": {"host": "reviews", "subset": "v1"}, "weight": 75},
          {"destination": {"host": "reviews", "subset": "v2"}, "weight": 25}
        ], "timeout": "1.5s", "retries": {"attempts": 3, "perTryTimeout": "300ms"}}]
      }
    }
  ]
}`
	c, probs, err := Read(context.Background(), "vs.json", strings.NewReader(js))
	if err != nil || len(probs) != 0 {
		t.Fatalf("Read: %v %v", err, probs)
	}
	p := c.PolicyIn("prod", "reviews")
	if p == nil {
		t.Fatal("no policy for prod/reviews")
	}
	want := []route{{Backends: []string{"reviews/v1 0.75", "reviews/v2 0.25"}, Timeout: "1.5s",
		Retry: "attempts 3 perTry 300ms on " + istioRetryOn}}
	if diff := cmp.Diff(want, summarize(p.Routes)); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if got, want := p.Routes[0].Backends[1].Weight.Pos, (discovery.Pos{File: "vs.json", Line: 13, Col: 74, Record: "items[0].spec.http[0].route[1].weight"}); got != want {
		t.Errorf("weight position: got %v, want %v", got, want)
	}
	if got := p.Routes[0].Retry.MaxAttempts(); got != 4 {
		t.Errorf("MaxAttempts: got %d, want 4 (the first request and 3 retries)", got)
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		in   string
		dl   dialect
		want time.Duration
		ok   bool
	}{
		{"1.5s", istioDuration, 1500 * time.Millisecond, true},
		{"300ms", istioDuration, 300 * time.Millisecond, true},
		{"1h30m", istioDuration, 90 * time.Minute, true},
		{"10", istioDuration, 0, false},
		{"-1s", linkerdDuration, 0, false},
		{"10s", gatewayDuration, 10 * time.Second, true},
		{"1h30m30s500ms", gatewayDuration, time.Hour + 30*time.Minute + 30*time.Second + 500*time.Millisecond, true},
		{"00060m", gatewayDuration, time.Hour, true},
		{"1.5s", gatewayDuration, 0, false},
		{"100us", gatewayDuration, 0, false},
		{"123456s", gatewayDuration, 0, false},
		{"1h1m1s1ms1h", gatewayDuration, 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in, tt.dl)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q, %d): got %v, %v; want %v, ok %v", tt.in, tt.dl, got, err, tt.want, tt.ok)
		}
	}
}

func TestSplitHost(t *testing.T) {
	tests := []struct{ host, ns, svc, wantNS string }{
		{"reviews", "bookinfo", "reviews", "bookinfo"},
		{"reviews.prod.svc.cluster.local", "bookinfo", "reviews", "prod"},
		{"reviews.prod.svc", "", "reviews", "prod"},
		{"web-svc.emojivoto.svc.cluster.local.", "", "web-svc", "emojivoto"},
		{"www.googleapis.com", "default", "www.googleapis.com", ""},
		{"reviews.prod", "default", "reviews.prod", ""},
		{"*", "default", "*", "default"},
	}
	for _, tt := range tests {
		svc, ns := splitHost(tt.host, tt.ns)
		if svc != tt.svc || ns != tt.wantNS {
			t.Errorf("splitHost(%q, %q): got %q, %q; want %q, %q", tt.host, tt.ns, svc, ns, tt.svc, tt.wantNS)
		}
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Read(ctx, "x.yaml", strings.NewReader("a: 1\n")); err == nil {
		t.Errorf("Read with a cancelled context: got no error")
	}
	if _, _, err := ReadPaths(context.Background(), []string{"testdata/does-not-exist"}); err == nil {
		t.Errorf("ReadPaths of a missing path: got no error")
	}
}

var wantRE = regexp.MustCompile(`^\s*(\S+)@(\d+) (.*)$`)

// TestBadInputs reads the annotated files of testdata/bad: every problem
// must be one a "# want:" comment expects, at its line and column.
func TestBadInputs(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/bad files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var want []string
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			for line := 1; sc.Scan(); line++ {
				_, ann, ok := strings.Cut(sc.Text(), "# want: ")
				if !ok {
					continue
				}
				for _, w := range strings.Split(ann, ";;") {
					m := wantRE.FindStringSubmatch(w)
					if m == nil {
						t.Fatalf("%s:%d: bad annotation %q", f, line, w)
					}
					want = append(want, fmt.Sprintf("%d:%s %s: %s", line, m[2], m[1], strings.TrimSpace(m[3])))
				}
			}
			fh.Close()
			_, probs := read(t, f)
			var got []string
			for _, p := range probs {
				if p.Pos.File != f {
					t.Errorf("problem in another file: %v", p)
				}
				// Keep the expected text where the detail contains it,
				// so the diff shows only what is missing or extra.
				g := fmt.Sprintf("%d:%d %s: %s", p.Pos.Line, p.Pos.Col, p.Kind, p.Detail)
				for _, w := range want {
					prefix, text, _ := strings.Cut(w, ": ")
					if strings.HasPrefix(g, prefix+": ") && strings.Contains(p.Detail, text) {
						g = w
						break
					}
				}
				got = append(got, g)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyntaxErrorKeepsEarlierDocuments(t *testing.T) {
	c, probs := read(t, "testdata/bad/syntax.yaml")
	if c.Policy("ratings") == nil || len(probs) != 1 {
		t.Errorf("got policies %v and problems %v; want ratings kept and one problem", c.Policies, probs)
	}
}

// TestAliasBomb: nested aliases that would make the walk exponential (a
// condition of 4^12 leaves in 1 kB) are refused, as is an alias inside its
// own anchor.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata: {name: a.b.svc.cluster.local}\nx:\n  a0: &a0 {method: GET}\n")
	for i := 1; i <= 12; i++ {
		p := fmt.Sprintf("*a%d", i-1)
		fmt.Fprintf(&b, "  a%d: &a%d {all: [%s, %s, %s, %s]}\n", i, i, p, p, p, p)
	}
	b.WriteString("spec:\n  routes: [{name: r, condition: *a12}]\n")
	for _, in := range []string{b.String(), "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nspec: &s {routes: [{name: r, condition: {all: [*s]}}]}\n"} {
		start := time.Now()
		c, probs, err := Read(context.Background(), "bomb.yaml", strings.NewReader(in))
		if err != nil || len(c.Policies) != 0 || len(probs) != 1 || !strings.Contains(probs[0].Detail, "aliases expand") {
			t.Errorf("got %v, %v, %v; want the document refused", c.Policies, probs, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v", d)
		}
	}
}
