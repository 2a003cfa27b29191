// Package actionlog is the durable history of guarded actions: when each
// action of each journey ran. A guard's maxPerWindow limit
// (guard.Limits.Violations) is checked against it, so it has to outlive
// restarts and be shared by every process that may run an action on a
// host, such as `emac guard check` and `emac serve`.
//
// The log is one JSON Lines file, one record per run:
//
//	{"journey":"checkout","action":"shift-traffic","at":"2025-01-02T03:04:05.123456789Z"}
//
// A record counts once its whole line, newline included, is written and
// fsynced. A final line with no newline is a write that a crash cut short:
// it is ignored, and removed before the next append. Any other line that
// does not parse is an error naming path:line. The history bounds what
// actions may do, so a damaged history must never be read as a shorter one.
//
// Processes exclude each other with flock(2) on the log file; the
// goroutines of one process also take a mutex, because flock locks belong
// to an open file, not to a goroutine. flock is reliable on local Linux
// file systems, not on NFS.
package actionlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// Defaults of Options.
const (
	// DefaultRetention is one week, far longer than the rate-limit
	// windows specs use (the examples' is 10m).
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultCompactAfter keeps the file small enough (about 1 MB) to be
	// read in full by a new process without noticeable delay.
	DefaultCompactAfter = 10000
)

// Options tune a Log. The zero value gives the defaults.
type Options struct {
	// Retention is how old a record may be before compaction drops it;
	// 0 means DefaultRetention. It must be at least the longest
	// Limits.Window checked against the log: a run dropped while it still
	// counts would let the limit allow too much.
	Retention time.Duration
	// CompactAfter is how many records the file may hold before
	// compaction is considered; 0 means DefaultCompactAfter.
	CompactAfter int
}

// Log is an open action log. It is safe for concurrent use by goroutines
// and by other processes that open the same file.
type Log struct {
	path string
	opts Options

	// mu serializes this process's goroutines and guards the fields below.
	mu sync.Mutex
	// f is the open log file; nil once closed. It changes when a
	// compaction, here or in another process, replaces the file.
	f *os.File
	// off is the end of the last complete line of f already read, lines
	// the number of lines before it and recs their records in file order:
	// each call reads only what other writers appended since.
	off   int64
	lines int
	recs  []record
}

// record is one run of an action.
type record struct {
	Journey, Action string
	At              time.Time
}

// wire is a record as a line of the file.
type wire struct {
	Journey string `json:"journey"`
	Action  string `json:"action"`
	At      string `json:"at"`
}

// Open opens the log at path, creating it (mode 0600) and its directory
// (mode 0700) when missing. It reads the file once, so that a damaged log
// is reported at start rather than at the first guarded action.
func Open(path string, opts Options) (*Log, error) {
	if opts.Retention < 0 {
		return nil, fmt.Errorf("actionlog: negative retention %v", opts.Retention)
	}
	if opts.CompactAfter < 0 {
		return nil, fmt.Errorf("actionlog: negative CompactAfter %d", opts.CompactAfter)
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.CompactAfter == 0 {
		opts.CompactAfter = DefaultCompactAfter
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("actionlog: %w", err)
	}
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	l := &Log{path: path, opts: opts, f: f}
	if err := l.withLock(syscall.LOCK_SH, l.refresh); err != nil {
		l.f.Close()
		return nil, err
	}
	return l, nil
}

// Close closes the file. Calls after it fail, except Close.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f, l.recs = nil, nil
	if err != nil {
		return fmt.Errorf("actionlog: %w", err)
	}
	return nil
}

// History returns the times the action of the journey ran, oldest first,
// as recorded by any process.
func (l *Log) History(journey, action string) ([]time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil, l.closedErr()
	}
	var out []time.Time
	err := l.withLock(syscall.LOCK_SH, func() error {
		if err := l.refresh(); err != nil {
			return err
		}
		out = l.history(journey, action)
		return nil
	})
	return out, err
}

// Reserve records a run of the action of the journey at now if decide,
// given the action's history (oldest first), returns true. The read,
// the decision and the durable append (write and fsync) happen under one
// exclusive lock across processes, so two requests can never both pass a
// check that only one of them should.
//
// decide runs with the log locked: it must be quick and must not call the
// Log. When Reserve fails after writing (a failed fsync), the run may
// stay in the log and count against the limit: the error refuses the
// action, and counting a run that did not happen errs on the side of
// refusing.
func (l *Log) Reserve(journey, action string, now time.Time, decide func(history []time.Time) bool) (recorded bool, err error) {
	if err := checkName("journey", journey); err != nil {
		return false, err
	}
	if err := checkName("action", action); err != nil {
		return false, err
	}
	if now.IsZero() {
		return false, errors.New("actionlog: the time of a run is zero")
	}
	if decide == nil {
		return false, errors.New("actionlog: decide is nil")
	}
	rec := record{Journey: journey, Action: action, At: now.UTC()}
	line, err := encode(rec)
	if err != nil {
		return false, err
	}
	// A line that cannot be read back would make the log unreadable.
	if _, err := parseRecord(line[:len(line)-1]); err != nil {
		return false, fmt.Errorf("actionlog: cannot record a run at %v: %w", now, err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return false, l.closedErr()
	}
	err = l.withLock(syscall.LOCK_EX, func() error {
		if err := l.refresh(); err != nil {
			return err
		}
		if err := l.maybeCompact(now); err != nil {
			return err
		}
		if !decide(l.history(journey, action)) {
			return nil
		}
		if err := l.append(rec, line); err != nil {
			return err
		}
		recorded = true
		return nil
	})
	return recorded, err
}

func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("actionlog: the %s is empty", what)
	}
	if !utf8.ValidString(s) {
		// JSON would replace the bad bytes: the record could never be
		// found under the name it was written with.
		return fmt.Errorf("actionlog: the %s %q is not valid UTF-8", what, s)
	}
	return nil
}

func (l *Log) closedErr() error {
	return fmt.Errorf("actionlog: %s: %w", l.path, os.ErrClosed)
}

// history returns the times of (journey, action) from the records read,
// oldest first, in a new slice that the caller may keep.
func (l *Log) history(journey, action string) []time.Time {
	var out []time.Time
	for _, r := range l.recs {
		if r.Journey == journey && r.Action == action {
			out = append(out, r.At)
		}
	}
	// Writers' clocks and callers' times need not increase with the file.
	slices.SortStableFunc(out, time.Time.Compare)
	return out
}

// withLock runs fn with the file locked (how is LOCK_SH or LOCK_EX).
// l.mu must be held.
func (l *Log) withLock(how int, fn func() error) (err error) {
	if err := l.lock(how); err != nil {
		return err
	}
	defer func() {
		// fn may have replaced l.f (compaction): unlock the current one.
		if uerr := flock(l.f, syscall.LOCK_UN); uerr != nil && err == nil {
			err = fmt.Errorf("actionlog: unlocking %s: %w", l.path, uerr)
		}
	}()
	return fn()
}

// lock locks the file at l.path. A compaction in another process may
// have renamed a new file over the path while this one waited: a lock on
// the old file then excludes no one, so lock moves to the new file.
func (l *Log) lock(how int) error {
	for {
		if err := flock(l.f, how); err != nil {
			return fmt.Errorf("actionlog: locking %s: %w", l.path, err)
		}
		held, err := l.f.Stat()
		if err == nil {
			atPath, perr := os.Stat(l.path)
			if perr == nil && os.SameFile(held, atPath) {
				return nil
			}
			if perr != nil && !errors.Is(perr, fs.ErrNotExist) {
				err = perr
			}
		}
		if err != nil {
			flock(l.f, syscall.LOCK_UN)
			return fmt.Errorf("actionlog: %w", err)
		}
		f, err := openFile(l.path)
		if err != nil {
			flock(l.f, syscall.LOCK_UN)
			return err
		}
		l.f.Close()
		l.f, l.off, l.lines, l.recs = f, 0, 0, nil
	}
}

// refresh reads the complete lines appended to the file since the last
// call. The file must be locked.
func (l *Log) refresh() error {
	fi, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("actionlog: %w", err)
	}
	size := fi.Size()
	if size < l.off {
		// Cut shorter by hand: what was read may be gone.
		l.off, l.lines, l.recs = 0, 0, nil
	}
	if size == l.off {
		return nil
	}
	buf := make([]byte, size-l.off)
	if n, err := l.f.ReadAt(buf, l.off); n < len(buf) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("actionlog: reading %s: %w", l.path, err)
	}
	recs, n, lines, perr := parse(buf)
	if perr != nil {
		return fmt.Errorf("actionlog: %s:%d: %s", l.path, l.lines+perr.line, perr.msg)
	}
	l.recs = append(l.recs, recs...)
	l.off += int64(n)
	l.lines += lines
	return nil
}

// append writes line (the encoding of r) after the last complete line
// and fsyncs it. The file must be locked exclusively and refreshed.
func (l *Log) append(r record, line []byte) error {
	fi, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("actionlog: %w", err)
	}
	if fi.Size() != l.off {
		// A torn line left by a crash: the new line goes where it began,
		// and what of it is longer than the new line must go too.
		if err := l.f.Truncate(l.off); err != nil {
			return fmt.Errorf("actionlog: %w", err)
		}
	}
	if _, err := l.f.WriteAt(line, l.off); err != nil {
		l.f.Truncate(l.off) // best effort: a torn line is ignored anyway
		return fmt.Errorf("actionlog: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		// The line stays (see Reserve); the next refresh reads it.
		return fmt.Errorf("actionlog: %w", err)
	}
	l.off += int64(len(line))
	l.lines++
	l.recs = append(l.recs, r)
	return nil
}

// maybeCompact drops the records older than the retention when the file
// holds more than CompactAfter records and at least half of them would
// go: each rewrite then at least halves the file, so a log of mostly
// recent records is not rewritten on every action. The file must be
// locked exclusively and refreshed.
func (l *Log) maybeCompact(now time.Time) error {
	if len(l.recs) <= l.opts.CompactAfter {
		return nil
	}
	// The same test as guard.Limits.Violations: a run Retention ago no
	// longer counts in a window of Retention.
	expired := func(r record) bool { return now.Sub(r.At) >= l.opts.Retention }
	drop := 0
	for _, r := range l.recs {
		if expired(r) {
			drop++
		}
	}
	if 2*drop < len(l.recs) {
		return nil
	}
	keep := make([]record, 0, len(l.recs)-drop)
	for _, r := range l.recs {
		if !expired(r) {
			keep = append(keep, r)
		}
	}
	return l.rewrite(keep)
}

// rewrite replaces the file with one holding keep: a new file in the same
// directory, fsynced, renamed over the path. The new file is locked
// before it takes the path, so a process that opens it then waits for
// this call to finish, and one waiting on the old file finds it renamed
// over (see lock).
func (l *Log) rewrite(keep []record) error {
	dir := filepath.Dir(l.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(l.path)+".compact-*")
	if err != nil {
		return fmt.Errorf("actionlog: compacting: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := flock(tmp, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("actionlog: compacting: %w", err)
	}
	var buf bytes.Buffer
	for _, r := range keep {
		line, err := encode(r)
		if err != nil {
			return err
		}
		buf.Write(line)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("actionlog: compacting: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("actionlog: compacting: %w", err)
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		return fmt.Errorf("actionlog: compacting: %w", err)
	}
	renamed = true
	old := l.f
	l.f, l.off, l.lines, l.recs = tmp, int64(buf.Len()), len(keep), keep
	old.Close() // releases its lock
	return syncDir(dir)
}

// openFile opens (creating) the log file, and fsyncs its directory so
// that a new file's name survives a crash along with its records.
func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("actionlog: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("actionlog: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("actionlog: syncing %s: %w", dir, err)
	}
	return nil
}

// flock is flock(2), retried when a signal interrupts the wait.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// encode returns r as a line of the file, newline included.
func encode(r record) ([]byte, error) {
	b, err := json.Marshal(wire{Journey: r.Journey, Action: r.Action, At: r.At.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return nil, fmt.Errorf("actionlog: %w", err)
	}
	return append(b, '\n'), nil
}

// lineError is a line of the file that is not a record.
type lineError struct {
	line int // 1-based, within the data parsed
	msg  string
}

// parse reads the complete lines of data: it returns their records, the
// bytes they span (up to and including the last newline) and how many
// lines that is. What follows the last newline is a torn write and is
// left out. Blank lines are skipped: they hold no run.
func parse(data []byte) (recs []record, n, lines int, err *lineError) {
	for {
		i := bytes.IndexByte(data[n:], '\n')
		if i < 0 {
			return recs, n, lines, nil
		}
		line := data[n : n+i]
		lines++
		if len(bytes.TrimSpace(line)) > 0 {
			r, err := parseRecord(line)
			if err != nil {
				return nil, 0, 0, &lineError{line: lines, msg: err.Error()}
			}
			recs = append(recs, r)
		}
		n += i + 1
	}
}

// parseRecord reads one line, without its newline.
func parseRecord(line []byte) (record, error) {
	var w wire
	if err := json.Unmarshal(line, &w); err != nil {
		return record{}, fmt.Errorf("not a record: %w", err)
	}
	if w.Journey == "" {
		return record{}, errors.New(`"journey" is missing`)
	}
	if w.Action == "" {
		return record{}, errors.New(`"action" is missing`)
	}
	if w.At == "" {
		return record{}, errors.New(`"at" is missing`)
	}
	at, err := time.Parse(time.RFC3339Nano, w.At)
	if err != nil {
		return record{}, fmt.Errorf(`"at" is not an RFC 3339 time: %q`, w.At)
	}
	// In UTC, as it is written back by a compaction, the year must still
	// have four digits, or the rewritten line could not be read.
	if y := at.UTC().Year(); y < 0 || y > 9999 {
		return record{}, fmt.Errorf(`"at" %q is out of range`, w.At)
	}
	return record{Journey: w.Journey, Action: w.Action, At: at.UTC()}, nil
}
