package controller

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/emac-dev/emac/internal/emit/guards"
	"github.com/emac-dev/emac/internal/service"
)

// configMapGVK is the kind of a journey's live ConfigMap.
var configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}

// liveConfigMap is the ConfigMap the admission policies of a journey's
// actions read its live variables from (guards.LiveConfigMap), holding
// the evaluation's values as the policies parse them; nil when the
// journey has no action, so that none is kept. Unknown values (an
// observation that could not measure every component) have no key: a
// policy reading one denies.
func liveConfigMap(c *compiled, ev evaluation) *unstructured.Unstructured {
	mj := c.Journey.Input.Journey
	if mj == nil || len(mj.Policy.Actions) == 0 || ev.result == nil {
		return nil
	}
	data := map[string]any{}
	for k, v := range service.VarsOf(mj, ev.result, nil).Text() {
		data[k] = v
	}
	u := &unstructured.Unstructured{Object: map[string]any{"data": data}}
	u.SetGroupVersionKind(configMapGVK)
	u.SetName(guards.LiveConfigMap(mj.Name))
	return u
}
