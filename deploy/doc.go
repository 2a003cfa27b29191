// Package deploy holds no code: its tests check the manifests that install
// emac in a cluster (config/ through kustomize, and the Helm chart under
// helm/emac) against a real API server, and that the chart's copies of
// generated files are current.
package deploy
