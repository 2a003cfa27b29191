package controller

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kubev1 "github.com/emac-dev/emac/api/kube/v1alpha1"
	wire "github.com/emac-dev/emac/api/v1alpha1"
)

// Reasons of the conditions and Events.
const (
	ReasonCompiled         = "Compiled"
	ReasonSpecInvalid      = "SpecInvalid"
	ReasonApplied          = "Applied"
	ReasonKindsMissing     = "KindsNotInstalled"
	ReasonApplyFailed      = "ApplyFailed"
	ReasonEvaluated        = "Evaluated"
	ReasonContractMode     = "ContractMode"
	ReasonSufficient       = "Sufficient"
	ReasonInsufficient     = "Insufficient"
	ReasonNoTelemetry      = "NoTelemetry"
	ReasonEvaluationFailed = "EvaluationFailed"
	ReasonDecisionChanged  = "DecisionChanged"
)

// status computes a compiled journey's status from the stored one:
// conditions keep their lastTransitionTime unless their status changes.
func (r *JourneyReconciler) status(j *journey, c *compiled, ar applyResult, ev evaluation) kubev1.JourneyStatus {
	old := j.Status.DeepCopy()
	res := ev.result
	st := kubev1.JourneyStatus{
		ObservedGeneration: j.Generation,
		Mode:               ev.mode,
		Decision:           res.Decision,
		Reasons:            slices.Clone(res.Reasons),
		Availability: &kubev1.AvailabilityStatus{
			Target: res.Availability.Target, Optimistic: res.Availability.Optimistic,
			Pessimistic: res.Availability.Pessimistic, Floor: res.Availability.Floor,
			Binding: slices.Clone(res.Availability.Binding),
		},
		Artifacts:     ar.refs,
		LastEvaluated: old.LastEvaluated,
		Conditions:    old.Conditions,
	}
	conf := res.Confidence
	st.Confidence = &conf
	if l := res.Latency; l != nil {
		st.Latency = &kubev1.LatencyStatus{Percentile: l.Percentile, Threshold: l.Threshold, Independent: l.Independent, Upper: l.Upper, Status: l.Status}
	}
	set := func(c metav1.Condition) {
		c.ObservedGeneration = j.Generation
		meta.SetStatusCondition(&st.Conditions, c)
	}
	msg := "the spec compiles"
	if c.Warnings != "" {
		msg += ", with warnings:\n" + c.Warnings
	}
	set(metav1.Condition{Type: kubev1.ConditionCompiled, Status: metav1.ConditionTrue, Reason: ReasonCompiled, Message: truncate(msg, maxMessage)})
	applied := metav1.Condition{Type: kubev1.ConditionArtifactsApplied, Status: metav1.ConditionTrue, Reason: ReasonApplied}
	switch {
	case ar.err != nil:
		applied.Status, applied.Reason, applied.Message = metav1.ConditionFalse, ReasonApplyFailed, truncate(ar.err.Error(), maxMessage)
	case len(ar.skipped) > 0:
		applied.Reason = ReasonKindsMissing
		applied.Message = fmt.Sprintf("applied %d objects; skipped, as the cluster does not serve them (install their CRDs): %s", ar.applied, strings.Join(ar.skipped, ", "))
	default:
		applied.Message = fmt.Sprintf("applied %d objects", ar.applied)
	}
	set(applied)
	set(ev.fresh)
	ready := metav1.Condition{Type: kubev1.ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonEvaluated,
		Message: fmt.Sprintf("compiled, artifacts applied, decision %s (%s mode)", st.Decision, ev.mode)}
	if ar.err != nil {
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, ReasonApplyFailed, "the artifacts could not be applied: see the ArtifactsApplied condition"
	}
	set(ready)
	return st
}

// invalidStatus is the status of a journey whose spec does not compile:
// no decision (the last one was for another spec), the objects of the last
// valid spec kept and listed, and the diagnostics in Compiled's message.
func (r *JourneyReconciler) invalidStatus(j *journey, diagnostics string) kubev1.JourneyStatus {
	old := j.Status.DeepCopy()
	st := kubev1.JourneyStatus{
		ObservedGeneration: j.Generation,
		Mode:               r.mode(),
		Artifacts:          old.Artifacts,
		LastEvaluated:      old.LastEvaluated,
		Conditions:         old.Conditions,
	}
	for _, c := range []metav1.Condition{
		{Type: kubev1.ConditionCompiled, Status: metav1.ConditionFalse, Reason: ReasonSpecInvalid, Message: diagnostics},
		{Type: kubev1.ConditionArtifactsApplied, Status: metav1.ConditionFalse, Reason: ReasonSpecInvalid,
			Message: "the spec does not compile; the objects of its last valid version are kept"},
		{Type: kubev1.ConditionEvidenceFresh, Status: metav1.ConditionFalse, Reason: ReasonSpecInvalid,
			Message: "nothing is evaluated while the spec does not compile"},
		{Type: kubev1.ConditionReady, Status: metav1.ConditionFalse, Reason: ReasonSpecInvalid,
			Message: "the spec does not compile: see the Compiled condition"},
	} {
		c.ObservedGeneration = j.Generation
		meta.SetStatusCondition(&st.Conditions, c)
	}
	return st
}

// mode is the controller's mode of decision.
func (r *JourneyReconciler) mode() string {
	if r.obs != nil {
		return wire.ModeObserved
	}
	return wire.ModeContract
}

// sameStatus compares two statuses as stored, lastEvaluated aside: their
// JSON, so that an empty list and a missing one are equal, as they are
// once stored.
func sameStatus(a, b *kubev1.JourneyStatus) bool {
	return statusJSON(a) == statusJSON(b)
}

// statusJSON is a status as stored, lastEvaluated aside.
func statusJSON(s *kubev1.JourneyStatus) string {
	x := *s
	x.LastEvaluated = nil
	b, err := json.Marshal(x)
	if err != nil { // a status is plain data: never
		return err.Error()
	}
	return string(b)
}
