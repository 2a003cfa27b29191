// Package schema generates the JSON Schema of emac's spec documents from
// the api types, so editors (yaml-language-server and the like) validate
// and complete Journey and ComponentCatalog files.
package schema

import (
	"encoding/json"
	"reflect"

	"github.com/invopop/jsonschema"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/guard"
)

// ID is the schema's identifier.
const ID = "https://emac.dev/schemas/v1alpha1/spec.json"

var (
	durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w|y))+$`
	percentPattern  = `^[0-9]+(\.[0-9]+)?\s*%$`
)

func ptr(n uint64) *uint64 { return &n }

func mapper(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeOf(v1alpha1.Duration(0)):
		return &jsonschema.Schema{Type: "string", Pattern: durationPattern,
			Description: "a duration such as 400ms, 5m, 1h30m or 30d"}
	case reflect.TypeOf(v1alpha1.Ratio(0)):
		return &jsonschema.Schema{
			Description: "a probability: 0.995 or \"99.5%\"",
			OneOf: []*jsonschema.Schema{
				{Type: "number", ExclusiveMinimum: "0", ExclusiveMaximum: "1"},
				{Type: "string", Pattern: percentPattern},
			}}
	}
	return nil
}

// Generate returns the schema, indented, deterministic.
func Generate() ([]byte, error) {
	r := &jsonschema.Reflector{Mapper: mapper, AllowAdditionalProperties: false}
	journey := r.Reflect(&v1alpha1.Journey{})
	catalog := r.Reflect(&v1alpha1.ComponentCatalog{})
	defs := journey.Definitions
	for k, v := range catalog.Definitions {
		defs[k] = v
	}
	for _, name := range []string{"Journey", "ComponentCatalog"} {
		d := defs[name]
		kind, _ := d.Properties.Get("kind")
		kind.Const = name
		av, _ := d.Properties.Get("apiVersion")
		av.Const = v1alpha1.APIVersion
	}
	// A flow node is a component name or an object with exactly one operator.
	node := defs["Node"]
	node.MinProperties, node.MaxProperties = ptr(1), ptr(1)
	defs["Node"] = &jsonschema.Schema{
		Description: "a journey node: a component name, or exactly one operator (" + joinOps() + ")",
		OneOf:       []*jsonschema.Schema{{Type: "string", MinLength: ptr(1)}, node},
	}
	bc := defs["BranchCase"]
	bc.MinProperties, bc.MaxProperties = ptr(2), ptr(2)
	race := defs["Race"]
	defs["Race"] = &jsonschema.Schema{
		Description: "the first success wins: a list of nodes, or {hedgeAfter, of}",
		OneOf:       []*jsonschema.Schema{{Type: "array", Items: &jsonschema.Schema{Ref: "#/$defs/Node"}, MinItems: ptr(1)}, race},
	}
	if c, ok := defs["Component"]; ok {
		if inv, ok := c.Properties.Get("invocations"); ok {
			inv.Enum = []any{"unknown", "transient", "persistent"}
		}
	}
	if dp, ok := defs["DecisionPolicy"]; ok {
		if av, ok := dp.Properties.Get("availability"); ok {
			av.Enum = []any{"pessimistic", "optimistic", "floor"}
		}
	}
	if rp, ok := defs["RolloutPolicy"]; ok {
		if p, ok := rp.Properties.Get("provider"); ok {
			p.Enum = []any{"argo-rollouts", "flagger"}
		}
	}
	if at, ok := defs["ActionTarget"]; ok {
		if k, ok := at.Properties.Get("kind"); ok {
			for _, tk := range guard.TargetKinds() {
				k.Enum = append(k.Enum, tk.Kind)
			}
		}
		if av, ok := at.Properties.Get("apiVersion"); ok {
			for _, tk := range guard.TargetKinds() {
				for _, v := range tk.APIVersions() {
					av.Enum = append(av.Enum, v)
				}
			}
		}
	}
	root := &jsonschema.Schema{
		Version:     jsonschema.Version,
		ID:          ID,
		Title:       "emac spec (emac.dev/v1alpha1)",
		Description: "A Journey or a ComponentCatalog document.",
		OneOf:       []*jsonschema.Schema{{Ref: "#/$defs/Journey"}, {Ref: "#/$defs/ComponentCatalog"}},
		Definitions: defs,
	}
	return json.MarshalIndent(root, "", "  ")
}

func joinOps() string {
	s := ""
	for i, op := range v1alpha1.Operators {
		if i > 0 {
			s += ", "
		}
		s += op
	}
	return s
}
