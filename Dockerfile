# syntax=docker/dockerfile:1
#
# Build:  docker build --build-arg VERSION=v1.2.3 -t bff:v1.2.3 .
# Run:    docker run --rm -p 8080:8080 --read-only \
#           -v "$PWD/bff.yaml:/etc/bff/bff.yaml:ro" \
#           -v "$PWD/secrets:/run/secrets/bff:ro" \
#           -v bff-data:/var/lib/bff bff:v1.2.3
#
# In the config you mount, set `listen: ":8080"` (the default 127.0.0.1:8080
# is unreachable from outside the container), keep the bolt file under
# /var/lib/bff (the default relative path "bff-sessions.db" lands there too)
# and give secrets as *_file keys naming files under /run/secrets/bff.
#
# The image has no HEALTHCHECK: orchestrators probe GET /healthz (alive) and
# GET /readyz (store and provider ready) over HTTP, as the Helm chart in
# deploy/helm/bff does. It runs with a read-only root file system; only
# /var/lib/bff (bolt store) needs to be writable.
#
# e2e/deploy/image_test.go runs the `go build` command below exactly as
# written (into a temporary directory) and checks the binary: keep it on one
# RUN line of its own shape.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Static (no cgo, no libc), reproducible paths (-trimpath), stripped, and
# stamped: `bff version` prints VERSION.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/bff ./cmd/bff \
 && mkdir -p /out/var/lib/bff

# distroless "static": CA certificates, tzdata and /etc/passwd, no shell, no
# package manager; the "nonroot" tag runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="bff" \
      org.opencontainers.image.description="Backend-for-frontend session server (OpenID Connect)" \
      org.opencontainers.image.source="https://github.com/bff-project/bff" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/bff /bff
COPY --from=build --chown=65532:65532 /out/var/lib/bff /var/lib/bff
COPY bff.example.yaml /etc/bff/bff.example.yaml
# The session store is the only writable directory.
USER 65532:65532
WORKDIR /var/lib/bff
VOLUME ["/var/lib/bff"]
EXPOSE 8080 9090
ENTRYPOINT ["/bff"]
CMD ["-config", "/etc/bff/bff.yaml"]
