# emac's image: the one static binary on distroless, non-root.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t emac .
# The Deployments in config/ and deploy/helm run it as `emac controller` and
# `emac serve`.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/emac-dev/emac/internal/cli.Version=${VERSION}" \
      -o /out/emac ./cmd/emac

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/emac /emac
USER 65532:65532
ENTRYPOINT ["/emac"]
