package nezha_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/nezha"
	"github.com/emac-dev/emac/internal/discovery/readtest"
)

const shared = "/work/shared/data/nezha"

func read(t testing.TB, name string, r io.Reader) *discovery.Collector {
	t.Helper()
	var c discovery.Collector
	if err := nezha.Read(context.Background(), name, r, &c); err != nil {
		t.Fatalf("Read(%s): %v", name, err)
	}
	return &c
}

// gunzip is a .csv.gz file's CSV.
func gunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sharedFile(t testing.TB, path string) string {
	t.Helper()
	path = shared + "/" + path
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s: %v", path, err)
	}
	return path
}

// One span table of each run, read compressed as they ship: a span per
// row (the rows counted here as lines: the tables quote nothing), no
// problems; the first and last spans in full.
func TestTables(t *testing.T) {
	for _, tc := range []struct {
		path        string
		first, last string
	}{
		{"online-boutique-2022-08-22/trace/03_53_trace.csv.gz",
			"0087f677c0a2cf3f80a551987167911b ee744a66e6efcb2e ← - frontend (frontend-579b9bff58-t2dbm) hipstershop.Frontend/Recv. [1661140374351773094, 1661140374362982609] :2",
			"fbbb27c4c0f60512f470ece325e1ddb2 a28f9e304e96df87 ← ad447459addeffc5 adservice (adservice-5f6585d649-fnmft) SELECT addatabase.aditems [1661140383604653721, 1661140383605240544] :23020"},
		{"train-ticket-2023-01-30/trace/11_51_trace.csv.gz",
			"aa00265193e2a75bdbb109b5a286b3a3 dd8e061dd1813199 ← - ts-gateway-service (ts-gateway-service-6f6cfc45b-d9pnv) /* [1675079501299000000, 1675079501682364930] :2",
			"",
		},
	} {
		t.Run(tc.path, func(t *testing.T) {
			path := sharedFile(t, tc.path)
			rows := bytes.Count(gunzip(t, path), []byte{'\n'}) - 1
			c := readFile(t, path)
			if c.spans != rows || len(c.problems) > 0 {
				t.Errorf("got %d spans, problems %v; want %d spans (rows), no problems", c.spans, c.problems, rows)
			}
			if got := brief(c.first); got != tc.first {
				t.Errorf("first span: got %s, want %s", got, tc.first)
			}
			if got := brief(c.last); tc.last != "" && got != tc.last {
				t.Errorf("last span: got %s, want %s", got, tc.last)
			}
			if c.last.Pos.Line != rows+1 {
				t.Errorf("last span on line %d, want %d", c.last.Pos.Line, rows+1)
			}
		})
	}
}

// counter is a sink that keeps the first and last spans and counts.
// readFile reads the span table at path into a counter.
func readFile(t *testing.T, path string) *counter {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c counter
	if err := nezha.Read(context.Background(), path, f, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

type counter struct {
	spans       int
	first, last discovery.Span
	services    map[string]bool
	problems    []discovery.Problem
}

func (c *counter) Span(s *discovery.Span) error {
	if c.spans == 0 {
		c.first = *s
	}
	c.last = *s
	c.spans++
	if c.services == nil {
		c.services = map[string]bool{}
	}
	c.services[s.Service] = true
	return nil
}

func (c *counter) Problem(p discovery.Problem) { c.problems = append(c.problems, p) }

func brief(s discovery.Span) string {
	parent := s.ParentID
	if parent == "" {
		parent = "-"
	}
	return fmt.Sprintf("%s %s ← %s %s (%s) %s [%d, %d] :%d", s.TraceID, s.SpanID, parent, s.Service, s.Placement.Pod, s.Operation, s.Start, s.End, s.Pos.Line)
}

// The fixtures in testdata (the first 300 rows of the two tables),
// compressed and not: the same spans, kind unspecified, outcome OK.
func TestFixtures(t *testing.T) {
	for _, name := range []string{"ob-03_53-head.csv.gz", "tt-11_51-head.csv.gz"} {
		t.Run(name, func(t *testing.T) {
			gz, err := os.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			c := read(t, name, bytes.NewReader(gz))
			plain := read(t, name, bytes.NewReader(gunzip(t, "testdata/"+name)))
			if len(c.Spans) != 300 || len(c.Problems) > 0 {
				t.Errorf("got %d spans, problems %v; want 300, none", len(c.Spans), c.Problems)
			}
			if diff := cmp.Diff(c.Spans, plain.Spans); diff != "" {
				t.Errorf("gzip (-) and plain (+) differ:\n%s", diff)
			}
			for _, s := range c.Spans {
				if s.Kind != discovery.KindUnspecified || s.Outcome != discovery.OK || s.Service == "" || s.Placement.Pod == "" {
					t.Fatalf("span %+v", s)
				}
			}
		})
	}
}

// Columns are found by name: shuffled, with CRLF line ends, a BOM, an
// extra column and Duration instead of EndTimeUnixNano, the same spans.
func TestColumnsByName(t *testing.T) {
	const in = "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n" +
		"t1,a,root,frontend-579b9bff58-t2dbm,Recv,1000,5000,4\n" +
		"t1,b,a,redis-cart-0,GET,2000,3000,1\n"
	const shuffled = "\ufeffDuration,Extra,OperationName,PodName,SpanID,TraceID,StartTimeUnixNano,ParentID\r\n" +
		"4,x,Recv,frontend-579b9bff58-t2dbm,a,t1,1000,root\r\n" +
		"1,y,GET,redis-cart-0,b,t1,2000,a\r\n"
	var got [2][]string
	for i, s := range []string{in, shuffled} {
		for _, sp := range read(t, "in.csv", strings.NewReader(s)).Spans {
			got[i] = append(got[i], brief(sp))
		}
	}
	want := []string{
		"t1 a ← - frontend (frontend-579b9bff58-t2dbm) Recv [1000, 5000] :2",
		"t1 b ← a redis-cart (redis-cart-0) GET [2000, 3000] :3",
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("in order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got[1]); diff != "" {
		t.Errorf("shuffled (-want +got):\n%s", diff)
	}
}

// Bad rows, each problem's line (and field) marked ‸; the good rows'
// spans are kept.
func TestProblems(t *testing.T) {
	const header = "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n"
	type problem struct {
		kind   discovery.ProblemKind
		detail string
	}
	for _, tc := range []struct {
		name  string
		in    string
		spans []string
		want  []problem
	}{
		{"bad numbers", header +
			"t,a,root,p-0,op,1,2,1\n" +
			"t,b,a,p-0,op,‸1.5e9,2,1\n" +
			"t,c,a,p-0,op,1,‸,1\n" +
			"t,d,a,p-0,op,5,‸2,1\n" +
			"t,e,a,p-0,op,1,‸99999999999999999999,1\n",
			[]string{"a"},
			[]problem{
				{discovery.Corrupt, `StartTimeUnixNano "1.5e9" is not an integer`},
				{discovery.Corrupt, `EndTimeUnixNano "" is not an integer`},
				{discovery.Corrupt, "the span ends before it starts"},
				{discovery.Corrupt, `EndTimeUnixNano "99999999999999999999" is not an integer`}}},
		{"missing ids", header +
			"‸,a,root,p-0,op,1,2,1\n" +
			"t,‸,root,p-0,op,1,2,1\n" +
			"t,c,root,‸,op,1,2,1\n" +
			"t,d,,p-0,op,1,2,1\n",
			[]string{"d"},
			[]problem{
				{discovery.MissingField, "no TraceID"},
				{discovery.MissingField, "no SpanID"},
				{discovery.MissingField, "no PodName: no service"}}},
		{"short row and quotes", header +
			"‸t,a,root\n" +
			"t,b,root,p-0,\"op‸\"x,1,2,1\n" +
			"t,c,root,p-0,\"a, quoted op\",1,2,1\n",
			[]string{"c"},
			[]problem{
				{discovery.Corrupt, "a row of 3 fields; the header has 8"},
				{discovery.Corrupt, `CSV: extraneous or missing " in quoted-field`}}},
		{"not a span table", "‸Source,Target,Weight\nfrontend,cart,1\n", nil,
			[]problem{{discovery.MissingField, "not a Nezha span table: no column TraceID, SpanID, ParentID, PodName, OperationName, StartTimeUnixNano, EndTimeUnixNano (or Duration); in.csv is not read"}}},
		{"empty", "", nil, nil},
		{"header only", header, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, marks := readtest.Annotate("in.csv", tc.in)
			if len(marks) != len(tc.want) {
				t.Fatalf("%d marks for %d problems", len(marks), len(tc.want))
			}
			c := read(t, "in.csv", strings.NewReader(in))
			var got []string
			for _, s := range c.Spans {
				got = append(got, s.SpanID)
			}
			if diff := cmp.Diff(tc.spans, got); diff != "" {
				t.Errorf("spans (-want +got):\n%s", diff)
			}
			var want, gotP []string
			for i, p := range tc.want {
				pos := marks[i]
				if pos.Col == 1 && !strings.Contains(p.detail, "CSV") && !strings.HasPrefix(p.detail, "no ") {
					pos.Col = 0 // a row, not a field
				}
				want = append(want, fmt.Sprintf("%d:%d %s: %s", pos.Line, pos.Col, p.kind, p.detail))
			}
			for _, p := range c.Problems {
				gotP = append(gotP, fmt.Sprintf("%d:%d %s: %s", p.Pos.Line, p.Pos.Col, p.Kind, p.Detail))
			}
			if diff := cmp.Diff(want, gotP); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// A truncated gzip stream is a problem of the input, after the spans
// before the cut.
func TestTruncatedGzip(t *testing.T) {
	gz, err := os.ReadFile("testdata/ob-03_53-head.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	c := read(t, "cut.csv.gz", bytes.NewReader(gz[:len(gz)/2]))
	if len(c.Spans) == 0 || len(c.Spans) >= 300 || len(c.Problems) != 1 || c.Problems[0].Kind != discovery.Corrupt ||
		!strings.Contains(c.Problems[0].Detail, "gzip: unexpected EOF") {
		t.Errorf("got %d spans, problems %v; want some spans, then one Corrupt", len(c.Spans), c.Problems)
	}
}

// Read returns the sink's error, ctx's, and the input's; nothing else.
func TestErrors(t *testing.T) {
	gz, err := os.ReadFile("testdata/ob-03_53-head.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	data := gunzip(t, "testdata/ob-03_53-head.csv.gz")
	errSink := errors.New("sink full")
	s := &readtest.FailSink{After: 2, Err: errSink}
	if err := nezha.Read(context.Background(), "in", bytes.NewReader(gz), s); !errors.Is(err, errSink) || len(s.Spans) != 2 {
		t.Errorf("sink error: got %v after %d spans, want %v after 2", err, len(s.Spans), errSink)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := nezha.Read(ctx, "in", bytes.NewReader(gz), &discovery.Collector{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want %v", err, context.Canceled)
	}
	errIO := errors.New("disk on fire")
	for _, in := range [][]byte{gz, data} {
		var c discovery.Collector
		if err := nezha.Read(context.Background(), "in", io.MultiReader(bytes.NewReader(in[:len(in)/2]), iotest.ErrReader(errIO)), &c); !errors.Is(err, errIO) {
			t.Errorf("I/O error: got %v, want %v", err, errIO)
		}
		if len(c.Problems) > 0 {
			t.Errorf("an I/O error is no problem of the input: %v", c.Problems)
		}
	}
}

func TestSniff(t *testing.T) {
	gz, err := os.ReadFile("testdata/tt-11_51-head.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		head []byte
		want bool
	}{
		{"gzip", gz[:512], true},
		{"plain", []byte("TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n0087f6"), true},
		{"shuffled, CRLF", []byte("\ufeffPodName,StartTimeUnixNano,SpanID,TraceID,ParentID\r\n"), true},
		{"no line end", []byte("TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano"), false},
		{"dependencies", []byte("Source,Target,Weight\n"), false},
		{"json", []byte(`{"data":[]}`), false},
		{"gzip of something else", gzipOf("Source,Target,Weight\n"), false},
	} {
		if got := nezha.Sniff(tc.head); got != tc.want {
			t.Errorf("Sniff(%s): got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func gzipOf(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestServiceOf(t *testing.T) {
	for pod, want := range map[string]string{
		// Every pod of the two runs.
		"adservice-5f6585d649-fnmft":                    "adservice",
		"cartservice-579f59597d-wc2lz":                  "cartservice",
		"checkoutservice-578fcf4766-9csqn":              "checkoutservice",
		"currencyservice-cf787dd48-vpjrd":               "currencyservice",
		"emailservice-55fdc5b988-f6xth":                 "emailservice",
		"frontend-579b9bff58-t2dbm":                     "frontend",
		"paymentservice-9cdb6588f-554sm":                "paymentservice",
		"productcatalogservice-668d5f85fb-wckp8":        "productcatalogservice",
		"recommendationservice-6cfdd55578-gfj6q":        "recommendationservice",
		"shippingservice-7b598fc7d-lmggd":               "shippingservice",
		"ts-assurance-service-69876c9868-wqgrl":         "ts-assurance-service",
		"ts-auth-service-7f8d7d756d-kzp47":              "ts-auth-service",
		"ts-basic-service-5dc8d4f9fd-llznp":             "ts-basic-service",
		"ts-cancel-service-756f6c4675-prw5z":            "ts-cancel-service",
		"ts-config-service-5fcd447d84-9qltf":            "ts-config-service",
		"ts-contacts-service-866bd68c97-dzqgd":          "ts-contacts-service",
		"ts-delivery-service-7d97b69596-gfnbr":          "ts-delivery-service",
		"ts-execute-service-775f544d9-tmwcv":            "ts-execute-service",
		"ts-food-service-f5756978c-6sb8t":               "ts-food-service",
		"ts-gateway-service-6f6cfc45b-d9pnv":            "ts-gateway-service",
		"ts-inside-payment-service-6f94c49ccd-t4k6c":    "ts-inside-payment-service",
		"ts-order-other-service-6cdbf9b4cc-swvb5":       "ts-order-other-service",
		"ts-order-service-5b67c48447-fj8b7":             "ts-order-service",
		"ts-payment-service-7fc6f5476f-pqwgt":           "ts-payment-service",
		"ts-preserve-other-service-66646bdb5b-l8hp6":    "ts-preserve-other-service",
		"ts-preserve-service-b5ccf8557-l5l4p":           "ts-preserve-service",
		"ts-price-service-76846864d9-nmjz7":             "ts-price-service",
		"ts-route-service-b6c59fb57-dz9bw":              "ts-route-service",
		"ts-seat-service-5c95b49cff-mxdsg":              "ts-seat-service",
		"ts-security-service-cb9788d56-bdkcx":           "ts-security-service",
		"ts-station-food-service-dc4d75dd-k65k2":        "ts-station-food-service",
		"ts-station-service-7f4f5f6f77-hp2zq":           "ts-station-service",
		"ts-train-food-service-59bbbdd99b-cz98n":        "ts-train-food-service",
		"ts-train-service-86f5f97bc9-tlpss":             "ts-train-service",
		"ts-travel-service-64469b5b48-5rjvb":            "ts-travel-service",
		"ts-travel2-service-5c66d57d58-zxw8n":           "ts-travel2-service",
		"ts-user-service-687d654649-f8jtd":              "ts-user-service",
		"ts-verification-code-service-7b6dc75c45-r66rb": "ts-verification-code-service",
		// StatefulSets, and names that are no pod of a controller.
		"redis-cart-0":          "redis-cart",
		"mysql-12":              "mysql",
		"frontend":              "frontend",
		"frontend-abcde":        "frontend-abcde",   // vowels: a word, not a suffix
		"web-server-fghjk":      "web-server-fghjk", // "server" is no hash
		"x-bcdfgh2456-":         "x-bcdfgh2456-",
		"-0":                    "-0",
		"svc-bcdfghjklmn-t2dbm": "svc-bcdfghjklmn-t2dbm", // an 11-character hash is too long
	} {
		if got := nezha.ServiceOf(pod); got != want {
			t.Errorf("ServiceOf(%q): got %q, want %q", pod, got, want)
		}
	}
}

// The services of the online-boutique traces (one table of the run has
// them all) cover the services of its ground-truth graph.
// dependency.csv also names loadgenerator, but only with IP targets,
// which ReadDependencies drops; the load generator reports no spans.
func TestServicesCoverDependencies(t *testing.T) {
	c := readFile(t, sharedFile(t, "online-boutique-2022-08-22/trace/03_53_trace.csv.gz"))
	dep, err := os.Open("testdata/ob-dependency.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Close()
	deps, err := nezha.ReadDependencies("ob-dependency.csv", dep)
	if err != nil {
		t.Fatal(err)
	}
	inDeps := map[string]bool{}
	for _, d := range deps {
		inDeps[d.Source], inDeps[d.Target] = true, true
	}
	var missing []string
	for s := range inDeps {
		if !c.services[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		t.Errorf("services of dependency.csv without spans: %v (traces: %v)", missing, c.services)
	}
	if len(inDeps) != 10 || len(c.services) != 10 || inDeps["loadgenerator"] || c.services["loadgenerator"] {
		t.Errorf("got %d services in the dependencies, %d in the traces; want 10 each, without loadgenerator", len(inDeps), len(c.services))
	}
}

func TestReadFaults(t *testing.T) {
	for _, tc := range []struct {
		file   string
		n      int
		first  nezha.Fault
		picked int // a record whose inject_time is 60 s off its timestamp
		start  time.Time
	}{
		{"ob-fault_list.json", 24,
			nezha.Fault{Pod: "frontend-579b9bff58-t2dbm", Service: "frontend", Start: time.Date(2022, 8, 22, 3, 53, 54, 0, time.UTC), Type: "cpu_contention",
				Pos: discovery.Pos{File: "ob-fault_list.json", Line: 3, Col: 9, Offset: 22, Record: `"03"[0]`}},
			-1, time.Time{}},
		{"tt-fault_list.json", 17,
			nezha.Fault{Pod: "ts-contacts-service-866bd68c97-dzqgd", Service: "ts-contacts-service", Start: time.Date(2023, 1, 30, 11, 51, 46, 0, time.UTC), Type: "network_delay",
				Pos: discovery.Pos{File: "tt-fault_list.json", Line: 3, Col: 9, Offset: 22, Record: `"11"[0]`}},
			2, time.Date(2023, 1, 30, 12, 7, 12, 0, time.UTC)},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			faults, err := nezha.ReadFaults(tc.file, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(faults) != tc.n {
				t.Errorf("got %d faults, want %d", len(faults), tc.n)
			}
			if diff := cmp.Diff(tc.first, faults[0]); diff != "" {
				t.Errorf("first fault (-want +got):\n%s", diff)
			}
			if tc.picked >= 0 && !faults[tc.picked].Start.Equal(tc.start) {
				t.Errorf("fault %d starts %v, want %v (inject_timestamp)", tc.picked, faults[tc.picked].Start, tc.start)
			}
			for _, f := range faults {
				if f.Service == f.Pod || f.Type == "" || f.Start.IsZero() {
					t.Errorf("fault %+v", f)
				}
			}
		})
	}
}

func TestReadFaultsErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"03": [{"inject_time": "2022-08-22 03:53:54", "inject_pod": "p-0", "inject_type": "return"}]}`, ""},
		{`{"03": [{"inject_timestamp": 1661140434, "inject_pod": "p-0", "inject_type": "return", "note": [1]}]}`, ""},
		{"{\"03\": [\n  {\"inject_timestamp\": \"soon\", \"inject_pod\": \"p-0\", \"inject_type\": \"x\"}]}", `f.json:2:3 ("03"[0]): inject_timestamp "soon" is not Unix seconds`},
		{`{"03": [{"inject_time": "22/08/2022", "inject_pod": "p-0", "inject_type": "x"}]}`, `f.json:1:9 ("03"[0]): inject_time "22/08/2022" is not YYYY-MM-DD hh:mm:ss`},
		{`{"03": [{"inject_pod": "p-0", "inject_type": "x"}, {"inject_pod": 5}]}`, `f.json:1:9 ("03"[0]): no inject_timestamp or inject_time`},
		{`{"03": [{"inject_timestamp": "1", "inject_type": "x"}]}`, `f.json:1:9 ("03"[0]): no inject_pod`},
		{`{"03": [{"inject_timestamp": "1", "inject_pod": 5}]}`, `f.json:1:9 ("03"[0]): inject_pod: want a string, got number`},
		{`{"03": {}}`, `f.json:1:8: want a list of faults for "03"`},
		{`[]`, `f.json:1:1: want an object of fault lists keyed by hour`},
		{`{"03": [{"inject_pod": "p"`, `f.json:1:27: JSON syntax: the input ends inside a value`},
		{`{"03": [}`, `f.json:1:9: JSON syntax: invalid character '}' looking for beginning of value`},
	} {
		faults, err := nezha.ReadFaults("f.json", strings.NewReader(tc.in))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want || (err == nil && len(faults) != 1) {
			t.Errorf("ReadFaults(%s): got %d faults, error %q; want error %q", tc.in, len(faults), got, tc.want)
		}
	}
}

func TestReadDependencies(t *testing.T) {
	f, err := os.Open("testdata/ob-dependency.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	deps, err := nezha.ReadDependencies("ob-dependency.csv", f)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range deps {
		got = append(got, fmt.Sprintf("%s→%s %g :%d", d.Source, d.Target, d.Weight, d.Pos.Line))
	}
	want := []string{
		"checkoutservice→emailservice 1 :2", "frontend→checkoutservice 1 :3", "frontend→recommendationservice 1 :4",
		"checkoutservice→cartservice 1 :5", "frontend→cartservice 1 :6", "checkoutservice→productcatalogservice 1 :7",
		"checkoutservice→shippingservice 1 :8", "frontend→productcatalogservice 1 :9", "frontend→adservice 1 :10",
		"checkoutservice→currencyservice 1 :11", "frontend→currencyservice 1 :12", "checkoutservice→paymentservice 1 :13",
		"frontend→shippingservice 1 :14", "recommendationservice→productcatalogservice 1 :15",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dependencies (-want +got):\n%s", diff)
	}

	for _, tc := range []struct{ in, want string }{
		{"Target,Source\nb,a\nfe80::1,a\n", ""},
		{"Source,Target,Weight\na,b,heavy\n", `d.csv:2:5: Weight "heavy" is not a non-negative number`},
		{"Source,Target,Weight\na,,1\n", `d.csv:2: a row without its Source or Target`},
		{"Source,Weight\na,1\n", `d.csv:1: not a dependency table: want the columns Source and Target (and Weight)`},
		{"Source,Target,Weight\na\n", `d.csv:2: a row of 1 fields; the header has 3`},
		{"Source,Target\n\"a,b\n", `d.csv:2:6: CSV: extraneous or missing " in quoted-field`},
	} {
		deps, err := nezha.ReadDependencies("d.csv", strings.NewReader(tc.in))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want || (err == nil && !slices.Equal([]string{deps[0].Source, deps[0].Target}, []string{"a", "b"})) {
			t.Errorf("ReadDependencies(%q): got %v, error %q; want error %q", tc.in, deps, got, tc.want)
		}
	}
}

// Read streams: on an input without end, it hands over spans as it goes
// (the sink stops it), having read a bounded prefix: a chunk for each
// worker splitting one, each waiting to be handed over, and the one
// being read and handed over (at most 4 workers, 256 KiB each).
func TestStreams(t *testing.T) {
	readtest.StreamsAhead(t, nezha.Read, "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n",
		"t,a,root,frontend-579b9bff58-t2dbm,op,1,2,0\n", "rows", 10*256<<10)
}
