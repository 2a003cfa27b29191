package nezha

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emac-dev/emac/internal/discovery"
)

// Fault is one injected fault of a Nezha run: the ground truth a
// discovered model's failure hypotheses are checked against.
type Fault struct {
	// Pod is the pod the fault was injected into (inject_pod); Service
	// the service it belongs to (ServiceOf).
	Pod, Service string
	// Start is when the injection started (inject_timestamp).
	Start time.Time
	// Type is the kind of fault (inject_type): cpu_contention,
	// cpu_consumed, network_delay, exception, return in the two runs.
	Type string
	Pos  discovery.Pos
}

// maxLabels bounds the label files read whole: they are small (tens of
// records), and the result holds all of them anyway.
const maxLabels = 64 << 20

// ReadFaults reads a run's fault_list.json:
//
//	{"03": [{"inject_time": "2022-08-22 03:53:54", "inject_timestamp": "1661140434",
//	         "inject_pod": "frontend-579b9bff58-t2dbm", "inject_type": "cpu_contention"}], …}
//
// keyed by the hour of the injections, in file order. Start is
// inject_timestamp (Unix seconds, a string or a number), the value the
// injector wrote; inject_time (UTC) is used only without it. They
// disagree by exactly 60 s in five of the 41 records of the two runs,
// where inject_time looks edited by hand. Unknown keys are ignored. A
// record that does not decode, or lacks its pod, its type or both times,
// is an error naming its line:col. The file is read whole (a labels file
// is small, and the result holds all of it anyway); one larger than 64
// MiB is an error.
func ReadFaults(name string, r io.Reader) ([]Fault, error) {
	data, err := readLimited(name, r)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	pos := func(off int64, record string) discovery.Pos { return jsonPos(name, data, off, true, record) }
	fail := func(off int64, record, format string, args ...any) error {
		return fmt.Errorf("%s: %s", pos(off, record), fmt.Sprintf(format, args...))
	}
	syntax := func(err error) error {
		// The streaming decoder's offsets for syntax errors are not
		// always absolute; a whole-document check's are (just past the
		// offending byte).
		var se *json.SyntaxError
		if uerr := json.Unmarshal(data, new(any)); errors.As(uerr, &se) {
			if strings.HasPrefix(se.Error(), "unexpected end") {
				return fail(int64(len(data)), "", "JSON syntax: the input ends inside a value")
			}
			return fmt.Errorf("%s: JSON syntax: %v", jsonPos(name, data, se.Offset-1, false, ""), se)
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(int64(len(data)), "", "JSON syntax: the input ends inside a value")
		}
		return fail(dec.InputOffset(), "", "JSON: %v", err)
	}
	expect := func(want json.Delim, what string) error {
		off := dec.InputOffset()
		t, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		if t != want {
			return fail(off, "", "want %s", what)
		}
		return nil
	}
	if err := expect('{', "an object of fault lists keyed by hour"); err != nil {
		return nil, err
	}
	var faults []Fault
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, syntax(err)
		}
		key := t.(string) // an object's keys are strings
		if err := expect('[', "a list of faults for "+strconv.Quote(key)); err != nil {
			return nil, err
		}
		for i := 0; dec.More(); i++ {
			record := strconv.Quote(key) + "[" + strconv.Itoa(i) + "]"
			off := dec.InputOffset()
			var raw struct {
				Time      *string         `json:"inject_time"`
				Timestamp json.RawMessage `json:"inject_timestamp"`
				Pod       string          `json:"inject_pod"`
				Type      string          `json:"inject_type"`
			}
			if err := dec.Decode(&raw); err != nil {
				var te *json.UnmarshalTypeError
				if errors.As(err, &te) {
					return nil, fail(off, record, "%s: want a %s, got %s", te.Field, te.Type, te.Value)
				}
				return nil, syntax(err)
			}
			f := Fault{Pod: raw.Pod, Service: ServiceOf(raw.Pod), Type: raw.Type, Pos: pos(off, record)}
			switch {
			case raw.Pod == "":
				return nil, fail(off, record, "no inject_pod")
			case raw.Type == "":
				return nil, fail(off, record, "no inject_type")
			case raw.Timestamp != nil && string(raw.Timestamp) != "null":
				sec, err := strconv.ParseInt(strings.Trim(string(raw.Timestamp), `"`), 10, 64)
				if err != nil {
					return nil, fail(off, record, "inject_timestamp %s is not Unix seconds", raw.Timestamp)
				}
				f.Start = time.Unix(sec, 0).UTC()
			case raw.Time != nil:
				t, err := time.Parse(time.DateTime, *raw.Time)
				if err != nil {
					return nil, fail(off, record, "inject_time %q is not YYYY-MM-DD hh:mm:ss", *raw.Time)
				}
				f.Start = t
			default:
				return nil, fail(off, record, "no inject_timestamp or inject_time")
			}
			faults = append(faults, f)
		}
		if err := expect(']', "the end of the list"); err != nil {
			return nil, err
		}
	}
	if err := expect('}', "the end of the object"); err != nil {
		return nil, err
	}
	return faults, nil
}

// Dependency is an edge of a run's ground-truth call graph.
type Dependency struct {
	// Source calls Target (service names, as in the traces' ServiceOf).
	Source, Target string
	// Weight is the row's Weight (1 in the online-boutique run), 1
	// without the column.
	Weight float64
	Pos    discovery.Pos
}

// ReadDependencies reads a run's dependency.csv (Source,Target,Weight;
// columns found by name): the services' call graph. The file also lists
// each service's edge to an IP address (online-boutique:
// "adservice,33.33.33.76,1", the traffic to the node or an external
// endpoint, and the load generator's only edges); those rows are dropped,
// so the result is the service-to-service graph. A row that does not
// parse is an error naming its line:col.
func ReadDependencies(name string, r io.Reader) ([]Dependency, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	fail := func(line, col int, format string, args ...any) error {
		p := discovery.Pos{File: name, Line: line, Col: col}
		return fmt.Errorf("%s: %s", p, fmt.Sprintf(format, args...))
	}
	csvErr := func(err error) error {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return fail(pe.Line, pe.Column, "CSV: %v", pe.Err)
		}
		return err
	}
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, csvErr(err)
	}
	iSrc, iDst, iW := -1, -1, -1
	for i, h := range header {
		switch strings.TrimPrefix(h, "\ufeff") {
		case "Source":
			iSrc = i
		case "Target":
			iDst = i
		case "Weight":
			iW = i
		}
	}
	if iSrc < 0 || iDst < 0 {
		return nil, fail(1, 0, "not a dependency table: want the columns Source and Target (and Weight)")
	}
	var deps []Dependency
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return deps, nil
		}
		if err != nil {
			return nil, csvErr(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) <= max(iSrc, iDst, iW) {
			return nil, fail(line, 0, "a row of %d fields; the header has %d", len(rec), len(header))
		}
		d := Dependency{Source: rec[iSrc], Target: rec[iDst], Weight: 1, Pos: discovery.Pos{File: name, Line: line}}
		if d.Source == "" || d.Target == "" {
			return nil, fail(line, 0, "a row without its Source or Target")
		}
		if _, err := netip.ParseAddr(d.Target); err == nil {
			continue
		}
		if iW >= 0 {
			w, err := strconv.ParseFloat(rec[iW], 64)
			if err != nil || w < 0 {
				l, c := cr.FieldPos(iW)
				return nil, fail(l, c, "Weight %q is not a non-negative number", rec[iW])
			}
			d.Weight = w
		}
		deps = append(deps, d)
	}
}

// readLimited reads a small labels file whole.
func readLimited(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxLabels+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxLabels {
		return nil, fmt.Errorf("%s: larger than %d MiB: not a labels file", name, maxLabels>>20)
	}
	return data, nil
}

// jsonPos is the position of offset off in data; skip moves it past the
// spaces and the comma that encoding/json's token offsets stop before.
func jsonPos(name string, data []byte, off int64, skip bool, record string) discovery.Pos {
	if off < 0 || off > int64(len(data)) {
		off = int64(len(data))
	}
	for skip && off < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
		off++
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return discovery.Pos{File: name, Line: line, Col: col, Offset: off, Record: record}
}
