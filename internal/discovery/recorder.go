package discovery

import (
	"time"
)

// Limits bound the evidence a Recorder holds and exports, so that its
// memory and the series it exports stay bounded whatever the traffic:
// past a limit, spans of new services, invocations of new operations,
// new edges and calls to an operation's new targets are dropped and
// counted in emac_discovery_dropped_total, by reason. The zero value is
// the default.
type Limits struct {
	// MaxServices (0: 1000), MaxOperations (0: 5000), MaxEdges (0: 10000)
	// and MaxTargets (the distinct operations one operation calls; 0:
	// 100).
	MaxServices, MaxOperations, MaxEdges, MaxTargets int
}

func (l Limits) maxServices() int   { return cmpOr(l.MaxServices, 1000) }
func (l Limits) maxOperations() int { return cmpOr(l.MaxOperations, 5000) }
func (l Limits) maxEdges() int      { return cmpOr(l.MaxEdges, 10000) }
func (l Limits) maxTargets() int    { return cmpOr(l.MaxTargets, 100) }

// The reasons of emac_discovery_dropped_total.
const (
	dropServices   = "services"
	dropOperations = "operations"
	dropEdges      = "edges"
	dropTargets    = "targets"
	dropPlacements = "placements"
)

// Recorder folds the spans a collector receives into Evidence and
// exports the evidence as metric families (docs/collector.md). A trace is
// folded in when no span of it arrived for Options.Idle. It is not safe
// for concurrent use: its user serialises calls.
type Recorder struct {
	a        *Assembler
	lim      Limits
	services map[string]bool
	last     string
	// clock is the arrival time of spans (time.Now)
	clock func() time.Time
}

// NewRecorder returns an empty Recorder.
func NewRecorder(opts Options, lim Limits) *Recorder {
	a := NewAssembler(opts)
	r := &Recorder{a: a, lim: lim, services: map[string]bool{}, clock: time.Now}
	a.ev.lim = &r.lim
	a.ev.dropped = map[string]int{}
	a.ev.noWindows = true
	return r
}

// Span implements Sink.
func (r *Recorder) Span(s *Span) error {
	ev := r.a.ev
	if s.Service != r.last && s.Service != "" {
		if !r.services[s.Service] {
			if len(r.services) >= r.lim.maxServices() {
				ev.dropped[dropServices]++
				return nil
			}
			r.services[s.Service] = true
		}
		r.last = s.Service
	}
	// Names and placements are numbered for good; a collector runs for
	// months, while span names with ids in them and pods come and go.
	// Past the room the limits leave, a span of a new name is dropped
	// (its operation could not be kept anyway), and a new placement is
	// not recorded.
	if len(ev.names.list) >= r.maxNames() {
		for _, n := range [...]string{s.Operation, s.Peer, s.PeerDomain} {
			if _, ok := ev.names.ids[n]; !ok && n != "" {
				ev.dropped[dropOperations]++
				return nil
			}
		}
	}
	if len(ev.places.list) >= maxPlacements && s.Placement != (Placement{}) {
		if _, ok := ev.places.ids[s.Placement]; !ok {
			ev.dropped[dropPlacements]++
			c := *s // the reader's: not to be changed
			c.Placement = Placement{}
			s = &c
		}
	}
	r.a.now = r.clock().UnixNano()
	return r.a.Span(s)
}

// maxPlacements bounds the distinct placements (pods, nodes, zones) a
// Recorder numbers.
const maxPlacements = 10000

// maxNames is the room for names: services, operations, peers and
// domains, twice what the limits keep.
func (r *Recorder) maxNames() int {
	return 2 * (r.lim.maxServices() + r.lim.maxOperations() + r.lim.maxEdges())
}

// Problem implements Sink.
func (r *Recorder) Problem(p Problem) { r.a.Problem(p) }

// Families folds in the traces idle since before now (Unix ns) less
// Options.Idle and returns the evidence so far, cumulative since the
// Recorder was made.
func (r *Recorder) Families(now int64) []Family {
	r.a.expire(now - int64(r.a.opts.idle()))
	return r.a.ev.Families()
}
