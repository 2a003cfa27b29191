#!/usr/bin/env bash
# otelcol.sh: build bin/otelcol-emac, an OpenTelemetry Collector with emac's
# connector (collector/emacconnector), the contrib servicegraph connector, the OTLP
# receiver, the batch processor and the load-balancing, OTLP (gRPC and HTTP),
# Prometheus and debug exporters.
#
#   bash hack/otelcol.sh              # prints the binary's path on stdout
#
# Uses only the Go module proxy: the OpenTelemetry Collector Builder (OCB) is run with
# `go run` at a pinned version, generates the distribution's sources from
# collector/builder-config.yaml into bin/otelcol-emac-src and resolves its modules;
# then `go build` compiles them. Both are repeatable: the manifest pins every
# component's version, the generated go.sum is checked against the checksum database,
# and the binary is built with -trimpath and without VCS stamps, so the same checkout
# and Go version give the same bytes.
#
# Generating (OCB plus `go mod tidy`, half a minute when the modules are cached) is
# skipped while the manifest, the collector module's and emac's go.mod/go.sum, the
# builder's version and Go's version are those of the last generation; `go build`
# always runs, and recompiles only what changed (the connector, emac's packages).
# About 5 minutes on 2 cores from empty caches, seconds when up to date.
# Progress goes to stderr; stdout is only the binary's path, so $(...) captures it.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

# Pinned: the builder's version is the collector core's (see the manifest's header).
ocb="go.opentelemetry.io/collector/cmd/builder@v0.165.0"
manifest=collector/builder-config.yaml
# dist.output_path of the manifest, from the repository root
src=bin/otelcol-emac-src
out=bin/otelcol-emac

command -v go >/dev/null || { echo "otelcol.sh: go not found" >&2; exit 1; }
# The build is this script's alone: a go.work or the caller's GOFLAGS (-mod=vendor,
# -race, ...) would change what is built.
export GOWORK=off GOFLAGS=-buildvcs=false

mkdir -p bin
# Two builds at once would generate into the same directory.
if command -v flock >/dev/null; then
  exec 9>bin/.otelcol-emac.lock
  flock 9
fi

stamp="$(
  {
    echo "$ocb"
    go version
    cat "$manifest" collector/go.mod collector/go.sum go.mod go.sum
  } | sha256sum | cut -d' ' -f1
)"
if [ -f "$src/go.sum" ] && [ "$(cat "$src/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "otelcol.sh: $src is up to date" >&2
else
  echo "otelcol.sh: generating $src with $ocb" >&2
  rm -rf "$src"
  # OCB resolves the manifest's paths against the working directory (its header).
  (cd collector && go run "$ocb" --config builder-config.yaml --skip-compilation) >&2
  echo "$stamp" >"$src/.stamp"
fi

echo "otelcol.sh: building $out" >&2
(cd "$src" && go build -trimpath -ldflags='-s -w' -o "$root/$out" .) >&2
echo "$root/$out"
