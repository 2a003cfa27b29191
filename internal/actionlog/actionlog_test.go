package actionlog

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

func always([]time.Time) bool { return true }

func open(t *testing.T, path string, opts Options) *Log {
	t.Helper()
	l, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func history(t *testing.T, l *Log, journey, action string) []time.Time {
	t.Helper()
	h, err := l.History(journey, action)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func equalTimes(a, b []time.Time) bool {
	return slices.EqualFunc(a, b, time.Time.Equal)
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestRestart: what one Log records, another opened after it closed
// reads back, per (journey, action) and oldest first.
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "actions.jsonl")
	runs := []struct {
		journey, action string
		at              time.Time
	}{
		{"checkout", "shift", t0},
		{"checkout", "shift", t0.Add(-time.Hour)}, // out of order: History sorts
		{"checkout", "rollback", t0.Add(time.Minute)},
		{"login", "shift", t0.Add(2 * time.Minute)},
		{"checkout", "shift", t0.In(time.FixedZone("X", 3600)).Add(time.Second)}, // stored in UTC
		{`j"<&>\`, "ünï", t0},
	}
	l := open(t, path, Options{})
	for _, r := range runs {
		ok, err := l.Reserve(r.journey, r.action, r.at, always)
		if err != nil || !ok {
			t.Fatalf("Reserve(%s, %s) = %v, %v", r.journey, r.action, ok, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.History("checkout", "shift"); !errors.Is(err, os.ErrClosed) {
		t.Errorf("History after Close: %v, want ErrClosed", err)
	}

	l = open(t, path, Options{})
	for _, tc := range []struct {
		journey, action string
		want            []time.Time
	}{
		{"checkout", "shift", []time.Time{t0.Add(-time.Hour), t0, t0.Add(time.Second)}},
		{"checkout", "rollback", []time.Time{t0.Add(time.Minute)}},
		{"login", "shift", []time.Time{t0.Add(2 * time.Minute)}},
		{`j"<&>\`, "ünï", []time.Time{t0}},
		{"login", "rollback", nil},
	} {
		if got := history(t, l, tc.journey, tc.action); !equalTimes(got, tc.want) {
			t.Errorf("History(%s, %s) = %v, want %v", tc.journey, tc.action, got, tc.want)
		}
	}

	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
	}
	if got := fileLines(t, path)[0]; got != `{"journey":"checkout","action":"shift","at":"2025-03-04T05:06:07.123456789Z"}` {
		t.Errorf("first line %s", got)
	}
}

// TestRead: how files another writer (or a crash) left are read.
func TestRead(t *testing.T) {
	const (
		a = `{"journey":"j","action":"a","at":"2025-03-04T05:06:07.123456789Z"}` + "\n"
		b = `{"journey":"j","action":"a","at":"2025-03-04T06:00:00+01:00"}` + "\n"
	)
	for _, tc := range []struct {
		name, data string
		want       int    // records of (j, a)
		err        string // after the path
	}{
		{name: "empty", data: "", want: 0},
		{name: "two", data: a + b, want: 2},
		{name: "blank lines", data: "\n" + a + "  \n" + b, want: 2},
		{name: "unknown field", data: `{"journey":"j","action":"a","at":"2025-03-04T05:06:07Z","by":"x"}` + "\n", want: 1},
		{name: "torn last line", data: a + b + `{"journey":"j","act`, want: 2},
		{name: "whole record without newline", data: a + strings.TrimSuffix(b, "\n"), want: 1},
		{name: "corrupt middle line", data: a + "garbage\n" + b, err: ":2: not a record"},
		{name: "corrupt last complete line", data: a + b + "{\n", err: ":3: not a record"},
		{name: "missing journey", data: a + `{"action":"a","at":"2025-03-04T05:06:07Z"}` + "\n", err: `:2: "journey" is missing`},
		{name: "missing action", data: `{"journey":"j","at":"2025-03-04T05:06:07Z"}` + "\n", err: `:1: "action" is missing`},
		{name: "missing at", data: `{"journey":"j","action":"a"}` + "\n", err: `:1: "at" is missing`},
		{name: "bad at", data: "\n\n" + `{"journey":"j","action":"a","at":"yesterday"}` + "\n" + a, err: `:3: "at" is not an RFC 3339 time`},
		{name: "at out of range", data: `{"journey":"j","action":"a","at":"0000-01-01T00:00:00+01:00"}` + "\n", err: `:1: "at" "0000-01-01T00:00:00+01:00" is out of range`},
		{name: "wrong type", data: `{"journey":1,"action":"a","at":"2025-03-04T05:06:07Z"}` + "\n", err: ":1: not a record"},
		{name: "null", data: "null\n", err: `:1: "journey" is missing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := Open(path, Options{})
			if tc.err != "" {
				if err == nil {
					l.Close()
					t.Fatalf("Open read %q", tc.data)
				}
				if want := path + tc.err; !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q, want it to contain %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if got := history(t, l, "j", "a"); len(got) != tc.want {
				t.Errorf("%d records, want %d", len(got), tc.want)
			}
		})
	}
}

// TestCorruptionAfterOpen: a line damaged after Open is reported with
// its line number by both History and Reserve, and Reserve records
// nothing: a damaged history never allows.
func TestCorruptionAfterOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l := open(t, path, Options{})
	for i := range 3 {
		if _, err := l.Reserve("j", "a", t0.Add(time.Duration(i)*time.Minute), always); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "{oops\n")
	f.Close()
	want := path + ":4: not a record"
	if _, err := l.History("j", "a"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("History: %v, want %q", err, want)
	}
	called := false
	ok, err := l.Reserve("j", "a", t0.Add(time.Hour), func([]time.Time) bool { called = true; return true })
	if ok || called || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Reserve = %v, %v (decide called: %v), want an error containing %q", ok, err, called, want)
	}
}

// TestTornTailRepaired: the first append after a crash mid-write replaces
// the torn line, however long, and leaves nothing of it behind.
func TestTornTailRepaired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	const good = `{"journey":"j","action":"a","at":"2025-03-04T05:06:07Z"}` + "\n"
	if err := os.WriteFile(path, []byte(good+`{"journey":"`+strings.Repeat("j", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	l := open(t, path, Options{})
	if ok, err := l.Reserve("j", "a", t0, always); err != nil || !ok {
		t.Fatalf("Reserve = %v, %v", ok, err)
	}
	l.Close()
	if got := fileLines(t, path); len(got) != 2 || got[0]+"\n" != good {
		t.Errorf("file after repair:\n%s", strings.Join(got, "\n"))
	}
	l = open(t, path, Options{})
	if got := history(t, l, "j", "a"); len(got) != 2 {
		t.Errorf("history %v, want 2 runs", got)
	}
}

// TestReserve: decide sees the history of its own (journey, action),
// oldest first, and a refusal records nothing.
func TestReserve(t *testing.T) {
	l := open(t, filepath.Join(t.TempDir(), "log"), Options{})
	for _, at := range []time.Time{t0.Add(time.Minute), t0} {
		if _, err := l.Reserve("j", "a", at, always); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Reserve("j", "other", t0.Add(time.Hour), always); err != nil {
		t.Fatal(err)
	}
	var seen []time.Time
	ok, err := l.Reserve("j", "a", t0.Add(2*time.Minute), func(h []time.Time) bool { seen = h; return false })
	if err != nil || ok {
		t.Fatalf("refused Reserve = %v, %v", ok, err)
	}
	if want := []time.Time{t0, t0.Add(time.Minute)}; !equalTimes(seen, want) {
		t.Errorf("decide saw %v, want %v", seen, want)
	}
	if got := history(t, l, "j", "a"); len(got) != 2 {
		t.Errorf("a refusal was recorded: %v", got)
	}
}

// TestReserveInvalid: arguments that cannot be recorded and read back
// are refused before anything is written.
func TestReserveInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l := open(t, path, Options{})
	for _, tc := range []struct {
		name, journey, action string
		at                    time.Time
		decide                func([]time.Time) bool
		err                   string
	}{
		{"empty journey", "", "a", t0, always, "journey is empty"},
		{"empty action", "j", "", t0, always, "action is empty"},
		{"bad UTF-8", "j\xff", "a", t0, always, "not valid UTF-8"},
		{"zero time", "j", "a", time.Time{}, always, "zero"},
		{"year 10000", "j", "a", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), always, "cannot record"},
		{"nil decide", "j", "a", t0, nil, "decide is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := l.Reserve(tc.journey, tc.action, tc.at, tc.decide)
			if ok || err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Reserve = %v, %v, want an error containing %q", ok, err, tc.err)
			}
		})
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("written: %s", b)
	}
	l.Close()
	if _, err := l.Reserve("j", "a", t0, always); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Reserve after Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := Open(path, Options{Retention: -time.Hour}); err == nil {
		t.Error("Open took a negative retention")
	}
}

// TestReserveConcurrent: 20 goroutines race to run an action limited to
// 5 runs; exactly 5 win, whether they share one Log or use three on the
// same file (three open files: flock, not the mutex, separates them).
func TestReserveConcurrent(t *testing.T) {
	for _, logs := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d logs", logs), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			ls := make([]*Log, logs)
			for i := range ls {
				ls[i] = open(t, path, Options{})
			}
			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					ok, err := ls[i%logs].Reserve("j", "a", t0.Add(time.Duration(i)*time.Millisecond), func(h []time.Time) bool {
						// A slow decision widens the window a race would need.
						time.Sleep(time.Millisecond)
						return len(h) < 5
					})
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 5 {
				t.Errorf("%d runs recorded, want 5", wins.Load())
			}
			if got := fileLines(t, path); len(got) != 5 {
				t.Errorf("file has %d lines, want 5", len(got))
			}
		})
	}
}

const (
	helperEnv   = "ACTIONLOG_HELPER_LOG"   // the log the helper process uses
	helperStart = "ACTIONLOG_HELPER_START" // when it starts, in Unix nanoseconds
	helperLimit = 7
)

// TestReserveAcrossProcesses: 4 processes each try 10 runs of an action
// limited to 7; exactly 7 are recorded. The processes are this test
// binary, re-run as helpers (see reserveHelper).
func TestReserveAcrossProcesses(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		reserveHelper(t)
		return
	}
	path := filepath.Join(t.TempDir(), "log")
	// All start together, after the slowest has loaded, so they contend.
	start := strconv.FormatInt(time.Now().Add(300*time.Millisecond).UnixNano(), 10)
	cmds := make([]*exec.Cmd, 4)
	outs := make([]strings.Builder, len(cmds))
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestReserveAcrossProcesses$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), helperEnv+"="+path, helperStart+"="+start)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	wins := 0
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i].String())
		}
		var n int
		_, after, _ := strings.Cut(outs[i].String(), "recorded ")
		if _, err := fmt.Sscanf(after, "%d", &n); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i].String())
		}
		wins += n
	}
	if wins != helperLimit {
		t.Errorf("helpers recorded %d runs, want %d", wins, helperLimit)
	}
	if got := fileLines(t, path); len(got) != helperLimit {
		t.Errorf("file has %d lines, want %d", len(got), helperLimit)
	}
}

// reserveHelper is one process of TestReserveAcrossProcesses.
func reserveHelper(t *testing.T) {
	ns, err := strconv.ParseInt(os.Getenv(helperStart), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(0, ns)))
	l := open(t, os.Getenv(helperEnv), Options{})
	n := 0
	for range 10 {
		ok, err := l.Reserve("j", "a", time.Now(), func(h []time.Time) bool { return len(h) < helperLimit })
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			n++
		}
	}
	fmt.Printf("recorded %d\n", n)
}

// TestCompaction: past CompactAfter records, runs older than the
// retention are dropped once at least half would go, and recent ones are
// kept.
func TestCompaction(t *testing.T) {
	opts := Options{Retention: time.Hour, CompactAfter: 10}
	for _, tc := range []struct {
		name     string
		old, new int
		compact  bool
	}{
		{"under CompactAfter", 8, 1, false},
		{"mostly recent", 5, 7, false},
		{"mostly old", 15, 3, true},
		{"half old", 6, 6, true},
		{"all old", 12, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			l := open(t, path, opts)
			var old, recent []time.Time
			for i := range tc.old {
				// the last exactly one retention ago, which no longer counts
				old = append(old, t0.Add(-2*time.Hour+time.Duration(i+1)*time.Hour/time.Duration(tc.old)))
			}
			for i := range tc.new {
				recent = append(recent, t0.Add(-time.Hour+time.Duration(i+1)*time.Minute))
			}
			for _, at := range slices.Concat(old, recent) {
				action := "a"
				if len(recent) > 0 && at.Equal(recent[0]) {
					action = "b" // compaction keeps other actions' runs too
				}
				if _, err := l.Reserve("j", action, at, always); err != nil {
					t.Fatal(err)
				}
			}
			// The run that finds the file past CompactAfter compacts it.
			var seen []time.Time
			if _, err := l.Reserve("j", "a", t0, func(h []time.Time) bool { seen = h; return true }); err != nil {
				t.Fatal(err)
			}
			want := len(old) + len(recent) + 1
			if tc.compact {
				want = len(recent) + 1
			}
			if got := fileLines(t, path); len(got) != want {
				t.Errorf("file has %d lines, want %d", len(got), want)
			}
			l.Close()
			l = open(t, path, opts)
			got := slices.Concat(history(t, l, "j", "a"), history(t, l, "j", "b"))
			slices.SortFunc(got, time.Time.Compare)
			wantRuns := slices.Concat(recent, []time.Time{t0})
			if !tc.compact {
				wantRuns = slices.Concat(old, wantRuns)
			}
			if !equalTimes(got, wantRuns) {
				t.Errorf("after reopening: %v, want %v", got, wantRuns)
			}
			if tc.compact && len(seen) != len(recent)-min(len(recent), 1) {
				t.Errorf("decide saw %d runs of a, want only the recent ones", len(seen))
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("left in the directory: %v", entries)
			}
		})
	}
}

// TestCompactionSeenByOthers: a Log whose file another Log compacted
// (renamed a new file over) moves to the new file instead of writing to
// the old one that no one reads.
func TestCompactionSeenByOthers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	opts := Options{Retention: time.Hour, CompactAfter: 4}
	a, b := open(t, path, opts), open(t, path, opts)
	for i := range 5 {
		if _, err := a.Reserve("j", "a", t0.Add(-2*time.Hour+time.Duration(i)*time.Minute), always); err != nil {
			t.Fatal(err)
		}
	}
	if got := history(t, b, "j", "a"); len(got) != 5 {
		t.Fatalf("b sees %d runs before compaction, want 5", len(got))
	}
	if _, err := a.Reserve("j", "a", t0, always); err != nil { // compacts
		t.Fatal(err)
	}
	if got := fileLines(t, path); len(got) != 1 {
		t.Fatalf("file has %d lines after compaction, want 1", len(got))
	}
	var seen []time.Time
	if _, err := b.Reserve("j", "a", t0.Add(time.Minute), func(h []time.Time) bool { seen = h; return true }); err != nil {
		t.Fatal(err)
	}
	if want := []time.Time{t0}; !equalTimes(seen, want) {
		t.Errorf("b saw %v, want %v", seen, want)
	}
	if want := []time.Time{t0, t0.Add(time.Minute)}; !equalTimes(history(t, a, "j", "a"), want) {
		t.Errorf("a sees %v, want %v", history(t, a, "j", "a"), want)
	}
	c := open(t, path, opts)
	if got := history(t, c, "j", "a"); len(got) != 2 {
		t.Errorf("a new Log sees %v, want 2 runs", got)
	}
}
