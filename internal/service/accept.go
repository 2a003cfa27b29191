package service

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/patch"
)

// AcceptOptions configure Accept; the zero value is the default.
type AcceptOptions struct {
	// Kinds limits the changes accepted to these kinds; nil accepts every
	// applied one.
	Kinds []string
}

// edits are the spec edits of a delta's changes that accept writes:
// those applied in After and not conservative (a conflict waits for a
// person).
func edits(md *v1alpha1.ModelDelta, kinds []string) []patch.Edit {
	var out []patch.Edit
	for _, c := range md.Changes {
		if !c.Applied || c.Conservative || len(c.Edits) == 0 {
			continue
		}
		if kinds != nil && !containsString(kinds, c.Kind) {
			continue
		}
		for _, e := range c.Edits {
			out = append(out, patch.Edit{Journey: md.Journey, Component: e.Component, Domains: e.Domains, AddComponent: e.AddComponent, Flow: e.Flow})
		}
	}
	return out
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Patched is the spec file as accepting the delta would leave it.
func Patched(md *v1alpha1.ModelDelta, opts AcceptOptions) (before, after []byte, err error) {
	before, err = os.ReadFile(md.Spec)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(before)
	if md.SpecDigest != "" && hex.EncodeToString(sum[:]) != md.SpecDigest {
		return nil, nil, fmt.Errorf("%s changed since the delta was made: discover again", md.Spec)
	}
	es := edits(md, opts.Kinds)
	if len(es) == 0 {
		return before, before, nil
	}
	after, err = patch.Apply(md.Spec, before, es)
	return before, after, err
}

// Accept writes the delta's accepted edits into its spec file (path, when
// given, names it instead), keeping its comments and layout
// (internal/patch).
func Accept(path string, md *v1alpha1.ModelDelta, opts AcceptOptions) error {
	if path != "" {
		md.Spec = path
	}
	before, after, err := Patched(md, opts)
	if err != nil {
		return err
	}
	if string(before) == string(after) {
		return nil
	}
	st, err := os.Stat(md.Spec)
	if err != nil {
		return err
	}
	return os.WriteFile(md.Spec, after, st.Mode().Perm())
}
