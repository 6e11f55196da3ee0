// Package deploy holds the tests of how the BFF is shipped: the Helm chart
// in deploy/helm/bff and the container image built by the Dockerfile. It has
// no code of its own.
//
// The chart tests run the helm binary (on PATH or in $(go env GOPATH)/bin;
// .ci/run installs it with go install helm.sh/helm/v4/cmd/helm@v4.3.2),
// render the chart with the default and the multi-replica values and check
// the manifests: probes, security context, secrets mounted as files and
// named by the *_file keys, service links off, the grace period, the
// optional objects, the refusal to run several replicas on the embedded
// store, and that the rendered bff.yaml passes the BFF's own config loader.
// Without helm they skip, unless BFF_TEST_REQUIRE lists "helm".
//
// No image registry or container engine is reachable where the tests run,
// so the image test proves what it can: it runs the Dockerfile's own build
// command, checks that the binary is static and version-stamped, and starts
// it as the image's unprivileged user (uid/gid 65532) in a read-only working
// directory, where it must answer /healthz and /readyz and stop cleanly on
// SIGTERM. That last part needs root (to switch user) and skips otherwise.
package deploy
