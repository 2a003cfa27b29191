package guard

import (
	"slices"
	"strings"
)

// TargetKind is a kind of Kubernetes object whose changes an action's
// guard and traffic-step limit are enforced on at admission: a route whose
// backend weights (integers, read as percentage points) shift traffic.
type TargetKind struct {
	Kind  string
	Group string
	// Versions are the API versions accepted, preferred first.
	Versions []string
	// Resource is the plural resource name admission rules match.
	Resource string
}

// TargetKinds returns the supported kinds, sorted by kind. Argo Rollouts'
// Rollout is not one: with traffic routing, a Rollout shifts traffic by
// rewriting its VirtualService or HTTPRoute, so targeting the route guards
// the controller's steps and manual edits alike.
func TargetKinds() []TargetKind {
	return []TargetKind{
		{Kind: "HTTPRoute", Group: "gateway.networking.k8s.io", Versions: []string{"v1", "v1beta1"}, Resource: "httproutes"},
		{Kind: "VirtualService", Group: "networking.istio.io", Versions: []string{"v1", "v1beta1", "v1alpha3"}, Resource: "virtualservices"},
	}
}

// LookupTarget returns the kind named kind, or false.
func LookupTarget(kind string) (TargetKind, bool) {
	for _, k := range TargetKinds() {
		if k.Kind == kind {
			return k, true
		}
	}
	return TargetKind{}, false
}

// APIVersions returns group/version for each accepted version.
func (k TargetKind) APIVersions() []string {
	var out []string
	for _, v := range k.Versions {
		out = append(out, k.Group+"/"+v)
	}
	return out
}

// Accepts reports whether apiVersion (group/version) is one of the kind's.
func (k TargetKind) Accepts(apiVersion string) bool {
	group, version, ok := strings.Cut(apiVersion, "/")
	return ok && group == k.Group && slices.Contains(k.Versions, version)
}
