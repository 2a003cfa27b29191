package discovery

// The patterns counted over every invocation's calls (in the order they
// started, times from the invocation's start): what the flow inference
// looks for, as rates a dashboard or an alert can follow over all
// traffic. The flow itself is inferred from the sampled invocations;
// these counts do not decide it.
const (
	// patOverlap: two successive calls to different targets ran at once
	// (the later started before the earlier ended): all, race, quorum.
	patOverlap = iota
	// patSequence: two successive calls to different targets ran one
	// after the other: a series.
	patSequence
	// patRetry: a target called again after its call failed.
	patRetry
	// patAfterFailure: a different target called after a call failed
	// and ended, while none ran: a fallback's.
	patAfterFailure
	// patTimeout: a call that ended with a timeout.
	patTimeout
	// patCancelled: a call its caller cancelled: a race's or a hedge's
	// loser, or what a quorum stopped waiting for.
	patCancelled
	numPatterns
)

var patternNames = [numPatterns]string{"overlap", "sequence", "retry", "after-failure", "timeout", "cancelled"}

// countPatterns adds the patterns of one invocation's calls to n; tol is
// the clock-skew tolerance, within which calls touching are in sequence.
func countPatterns(n *[numPatterns]int, calls []call, tol int64) {
	for i := range calls {
		c := &calls[i]
		switch c.outcome {
		case Timeout:
			n[patTimeout]++
		case Cancelled:
			n[patCancelled]++
		}
		if i == 0 || c.async {
			continue
		}
		p := &calls[i-1]
		switch {
		case c.target == p.target && p.outcome.Failed() && p.outcome != Cancelled && c.start >= p.end-tol:
			n[patRetry]++
		case c.target == p.target:
		case c.start < p.end-tol:
			n[patOverlap]++
		case p.outcome.Failed() && p.outcome != Cancelled:
			n[patAfterFailure]++
		default:
			n[patSequence]++
		}
	}
}
