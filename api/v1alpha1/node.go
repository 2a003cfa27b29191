package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Node is one node of the journey algebra. Exactly one field is set; in
// YAML/JSON a bare string is a call.
//
// A CRD cannot describe it (it is recursive, and a string or an object), so
// every field of type Node in a Kubernetes kind is marked
// +kubebuilder:validation:Schemaless and
// +kubebuilder:pruning:PreserveUnknownFields: the API server keeps the flow
// as written and emac's loader checks it, with positions.
type Node struct {
	Call     string       `json:"call,omitempty"`
	Seq      []Node       `json:"seq,omitempty"`
	All      []Node       `json:"all,omitempty"`
	Race     *Race        `json:"race,omitempty"`
	Fallback []Node       `json:"fallback,omitempty"`
	Quorum   *Quorum      `json:"quorum,omitempty"`
	Branch   []BranchCase `json:"branch,omitempty"`
	Retry    *Retry       `json:"retry,omitempty"`
	Timeout  *Timeout     `json:"timeout,omitempty"`
	Optional *Node        `json:"optional,omitempty"`
	Async    *Node        `json:"async,omitempty"`
}

// Operators lists the YAML keys of the eleven operators, in SPEC order.
var Operators = []string{"call", "seq", "all", "race", "fallback", "quorum", "branch", "retry", "timeout", "optional", "async"}

// Race runs its branches concurrently (hedged after HedgeAfter when set);
// the first success wins.
type Race struct {
	HedgeAfter *Duration `json:"hedgeAfter,omitempty"`
	Of         []Node    `json:"of"`
}

// Quorum succeeds when at least K of its branches succeed.
type Quorum struct {
	K  int    `json:"k"`
	Of []Node `json:"of"`
}

// BranchCase is one weighted case of a branch; the node's fields are inline.
type BranchCase struct {
	Weight float64 `json:"weight"`
	Node   `json:",inline"`
}

// Retry repeats Do until it succeeds, at most Attempts times.
type Retry struct {
	Attempts      int       `json:"attempts"`
	PerTryTimeout *Duration `json:"perTryTimeout,omitempty"`
	Backoff       *Duration `json:"backoff,omitempty"`
	Do            *Node     `json:"do"`
}

// Timeout fails Do when it takes longer than After.
type Timeout struct {
	After Duration `json:"after"`
	Do    *Node    `json:"do"`
}

// MarshalJSON writes a call as a bare string.
func (n Node) MarshalJSON() ([]byte, error) {
	if n.Call != "" && n.isCallOnly() {
		return json.Marshal(n.Call)
	}
	type plain Node
	return json.Marshal(plain(n))
}

func (n Node) isCallOnly() bool {
	return n.Seq == nil && n.All == nil && n.Race == nil && n.Fallback == nil && n.Quorum == nil &&
		n.Branch == nil && n.Retry == nil && n.Timeout == nil && n.Optional == nil && n.Async == nil
}

// UnmarshalJSON accepts a bare string as a call.
func (n *Node) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*n = Node{}
		return json.Unmarshal(b, &n.Call)
	}
	type plain Node
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*n = Node(p)
	return nil
}

// MarshalJSON writes a race without a hedge as a plain list.
func (r Race) MarshalJSON() ([]byte, error) {
	if r.HedgeAfter == nil {
		if r.Of == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(r.Of)
	}
	type plain Race
	return json.Marshal(plain(r))
}

// UnmarshalJSON accepts a plain list of branches.
func (r *Race) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		*r = Race{}
		return json.Unmarshal(b, &r.Of)
	}
	type plain Race
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = Race(p)
	return nil
}

// MarshalJSON inlines the case's node next to its weight.
func (c BranchCase) MarshalJSON() ([]byte, error) {
	nb, err := json.Marshal(c.Node)
	if err != nil {
		return nil, err
	}
	wb, err := json.Marshal(c.Weight)
	if err != nil {
		return nil, err
	}
	if len(nb) > 0 && nb[0] == '"' { // a bare call becomes {"call": ...}
		nb = append(append([]byte(`{"call":`), nb...), '}')
	}
	out := append([]byte(`{"weight":`), wb...)
	if len(nb) > 2 {
		out = append(out, ',')
		out = append(out, nb[1:]...)
	} else {
		out = append(out, '}')
	}
	return out, nil
}

// UnmarshalJSON reads the weight and the inline node.
func (c *BranchCase) UnmarshalJSON(b []byte) error {
	var w struct {
		Weight *float64 `json:"weight"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.Weight == nil {
		return fmt.Errorf("branch case needs a weight")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	delete(m, "weight")
	rest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.Weight = *w.Weight
	return json.Unmarshal(rest, &c.Node)
}
