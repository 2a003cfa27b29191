// Package crd embeds emac's CustomResourceDefinitions (Journey,
// ComponentCatalog, ModelDelta) as `make generate` writes them to bases/,
// so that tests anywhere in the module can install them in a real API
// server (internal/kubetest) without knowing where the files are.
//
// The YAML is the source of truth for clusters: kustomize reads it through
// kustomization.yaml and the Helm chart holds copies.
package crd

import (
	"bytes"
	"embed"
	"io/fs"
)

//go:embed bases/*.yaml
var bases embed.FS

// files are the embedded CRD files' paths, bases/NAME.yaml, sorted.
func files() []string {
	names, err := fs.Glob(bases, "bases/*.yaml")
	if err != nil { // only a malformed pattern fails
		panic(err)
	}
	return names
}

// YAML is every CRD as one multi-document YAML stream, for
// kubetest's (*Server).InstallCRDs.
func YAML() []byte {
	var b bytes.Buffer
	for _, name := range files() {
		data, err := bases.ReadFile(name)
		if err != nil { // embedded files are always readable
			panic(err)
		}
		if !bytes.HasPrefix(data, []byte("---")) {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	return b.Bytes()
}
