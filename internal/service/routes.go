package service

import (
	"fmt"
	"slices"
	"strings"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/discovery"
	"github.com/emac-dev/emac/internal/discovery/mesh"
	"github.com/emac-dev/emac/internal/model"
)

// routes turns mesh configuration into what it says of calls: for each
// route of each service, a flow over its backends — a branch on the
// weights, inside a retry (attempts = 1 + the mesh's retries) and a
// timeout — with the positions it was read from (mesh's package doc
// gives each mesh's defaults and readings).
func routes(cfg *mesh.Config) []v1alpha1.DiscoveredRoute {
	var out []v1alpha1.DiscoveredRoute
	for _, p := range cfg.Policies {
		for _, r := range p.Routes {
			if len(r.Backends) == 0 {
				continue
			}
			n := routeFlow(r)
			dr := v1alpha1.DiscoveredRoute{Service: p.Service, Canonical: n.String(), Provenance: v1alpha1.Provenance{Sources: []string{r.Pos.String() + " (" + r.Source.String() + ")"}}}
			node := discovery.APINode(n)
			dr.Flow = &node
			if r.Name.V != "" {
				dr.Notes = append(dr.Notes, "route "+r.Name.V)
			}
			for _, m := range r.Match {
				dr.Notes = append(dr.Notes, "when "+m.V)
			}
			if r.Retry != nil && r.Retry.Attempts.Default {
				dr.Notes = append(dr.Notes, fmt.Sprintf("retries: the mesh's default (%d attempts), not written in the configuration", r.Retry.MaxAttempts()))
			}
			if r.Retry != nil && r.Retry.Budget != nil {
				dr.Notes = append(dr.Notes, fmt.Sprintf("retry budget %.3g of requests (+%d/s): attempts read as %d, fewer in an outage", r.Retry.Budget.RetryRatio.V, r.Retry.Budget.MinRetriesPerSecond.V, r.Retry.MaxAttempts()))
			}
			if r.Fault != nil {
				if d := r.Fault.Delay; d != nil {
					dr.Notes = append(dr.Notes, fmt.Sprintf("fault injection: %v delay", d.Fixed.V))
				}
				if a := r.Fault.Abort; a != nil {
					dr.Notes = append(dr.Notes, "fault injection: abort")
				}
			}
			if p.LocalityFallback() {
				dr.Notes = append(dr.Notes, "outlier detection with locality load balancing: calls fall back to other localities when these fail (a fallback across localities)")
			}
			out = append(out, dr)
		}
	}
	slices.SortStableFunc(out, func(a, b v1alpha1.DiscoveredRoute) int { return strings.Compare(a.Service, b.Service) })
	return out
}

func routeFlow(r mesh.Route) *model.Node {
	var n *model.Node
	if len(r.Backends) == 1 {
		n = &model.Node{Op: model.Call, Component: r.Backends[0].Name()}
	} else {
		n = &model.Node{Op: model.Branch}
		for _, b := range r.Backends {
			n.Children = append(n.Children, &model.Node{Op: model.Call, Component: b.Name()})
			n.Weights = append(n.Weights, b.P)
		}
	}
	if rt := r.Retry; rt != nil && rt.MaxAttempts() > 1 {
		retry := &model.Node{Op: model.Retry, Attempts: rt.MaxAttempts(), Children: []*model.Node{n}}
		if rt.PerTryTimeout != nil {
			retry.PerTryTimeout = rt.PerTryTimeout.V
		}
		if rt.Backoff != nil {
			retry.Backoff = rt.Backoff.V
		}
		n = retry
	}
	if r.Timeout != nil && r.Timeout.V > 0 {
		n = &model.Node{Op: model.Timeout, After: r.Timeout.V, Children: []*model.Node{n}}
	}
	return n
}
