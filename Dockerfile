# syntax=docker/dockerfile:1
#
# Build:  docker build --build-arg VERSION=v1.2.3 -t bff .
# Run:    docker run -p 8080:8080 -v $PWD/bff.yaml:/etc/bff/bff.yaml:ro \
#           -v /run/secrets:/run/secrets:ro -v bff-data:/var/lib/bff bff
#
# In the container, set `listen: ":8080"` (the default 127.0.0.1:8080 is
# unreachable from outside) and keep the bolt file under /var/lib/bff (the
# default relative path "bff-sessions.db" lands there too).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/bff ./cmd/bff \
 && mkdir -p /out/var/lib/bff

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bff /bff
COPY --from=build --chown=65532:65532 /out/var/lib/bff /var/lib/bff
COPY bff.example.yaml /etc/bff/bff.example.yaml
# distroless "nonroot" is uid/gid 65532; the session store is its only writable dir.
USER 65532:65532
WORKDIR /var/lib/bff
VOLUME ["/var/lib/bff"]
EXPOSE 8080
ENTRYPOINT ["/bff"]
CMD ["-config", "/etc/bff/bff.yaml"]
