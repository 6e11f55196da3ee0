package deploy_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bff-project/bff/bff/config"
	"gopkg.in/yaml.v3"
)

// This file takes one render of the chart apart and holds the checks every
// render must pass.

// rendered is one render of the chart, taken apart.
type rendered struct {
	ms        manifests
	dep       deployment
	pod       podSpec
	bff       container
	cm        configMap
	config    map[string]any // the rendered bff.yaml
	secretDir string         // where the secrets volume is mounted
	configDir string         // where the config volume is mounted
}

func renderChart(t *testing.T, args ...string) rendered {
	t.Helper()
	r := rendered{ms: mustRender(t, args...)}
	r.ms.one(t, "Deployment", &r.dep)
	r.pod = r.dep.Spec.Template.Spec
	if len(r.pod.Containers) != 1 {
		t.Fatalf("pod has %d containers, want 1", len(r.pod.Containers))
	}
	r.bff = r.pod.Containers[0]
	r.ms.one(t, "ConfigMap", &r.cm)
	text, ok := r.cm.Data["bff.yaml"]
	if !ok {
		t.Fatalf("ConfigMap has no bff.yaml; keys %v", keys(r.cm.Data))
	}
	if err := yaml.Unmarshal([]byte(text), &r.config); err != nil {
		t.Fatalf("rendered bff.yaml: %v\n%s", err, text)
	}
	r.secretDir = r.mountOf(t, func(v volume) bool { return v.Secret != nil })
	r.configDir = r.mountOf(t, func(v volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == r.cm.Metadata.Name })
	return r
}

// mountOf returns the mount path of the one volume that match selects.
func (r rendered) mountOf(t *testing.T, match func(volume) bool) string {
	t.Helper()
	var names []string
	for _, v := range r.pod.Volumes {
		if match(v) {
			names = append(names, v.Name)
		}
	}
	if len(names) != 1 {
		t.Fatalf("volumes matching = %v, want exactly one; volumes: %+v", names, r.pod.Volumes)
	}
	for _, m := range r.bff.VolumeMounts {
		if m.Name == names[0] {
			if !m.ReadOnly {
				t.Errorf("volume %s is mounted writable, want readOnly", m.Name)
			}
			return m.MountPath
		}
	}
	t.Fatalf("volume %s is not mounted in the container", names[0])
	return ""
}

func (r rendered) volume(name string) (volume, bool) {
	for _, v := range r.pod.Volumes {
		if v.Name == name {
			return v, true
		}
	}
	return volume{}, false
}

func (r rendered) port(t *testing.T, name string) int {
	t.Helper()
	for _, p := range r.bff.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container has no port named %q", name)
	return 0
}

// cfg returns the rendered bff.yaml's value at a dotted key path, "" when absent.
func (r rendered) cfg(key string) string {
	var v any = r.config
	for part := range strings.SplitSeq(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[part]
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// fileKeys returns every *_file key of the rendered bff.yaml (one level of
// sections deep, where the config format has them) and its path.
func (r rendered) fileKeys() map[string]string {
	files := map[string]string{}
	for section, v := range r.config {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		for k, p := range m {
			if strings.HasSuffix(k, "_file") {
				files[section+"."+k] = fmt.Sprint(p)
			}
		}
	}
	return files
}

// checkPod asserts what every render must hold: the pod's hardening, the
// probes and listen ports, and the shutdown sequence.
func (r rendered) checkPod(t *testing.T) {
	t.Helper()
	r.checkHardening(t)
	r.checkProbesAndPorts(t)
	r.checkShutdown(t)
	if _, ok := r.dep.Spec.Template.Metadata.Annotations["checksum/config"]; !ok {
		t.Errorf("pod annotations %v lack checksum/config (pods would not roll when bff.yaml changes)", r.dep.Spec.Template.Metadata.Annotations)
	}
}

// checkHardening: service links and the service account token off, non-root,
// read-only root file system, no privilege escalation, no capabilities,
// the runtime's default seccomp profile.
func (r rendered) checkHardening(t *testing.T) {
	t.Helper()
	pod := r.pod
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Errorf("enableServiceLinks = %v, want false (Service %q would inject BFF_* variables)", deref(pod.EnableServiceLinks), release)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken = %v, want false", deref(pod.AutomountServiceAccountToken))
	}
	psc, csc := pod.SecurityContext, r.bff.SecurityContext
	if !isTrue(psc.RunAsNonRoot) && !isTrue(csc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not true on the pod or the container")
	}
	for _, sc := range []securityContext{psc, csc} {
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			t.Error("runAsUser is 0")
		}
	}
	if !isTrue(csc.ReadOnlyRootFilesystem) {
		t.Errorf("container readOnlyRootFilesystem = %v, want true", deref(csc.ReadOnlyRootFilesystem))
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("container allowPrivilegeEscalation = %v, want false", deref(csc.AllowPrivilegeEscalation))
	}
	if !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		t.Errorf("container capabilities = drop %v add %v, want drop [ALL] and no add", csc.Capabilities.Drop, csc.Capabilities.Add)
	}
	seccomp := csc.SeccompProfile.Type // the container's wins over the pod's
	if seccomp == "" {
		seccomp = psc.SeccompProfile.Type
	}
	if seccomp != "RuntimeDefault" {
		t.Errorf("seccompProfile = %q, want RuntimeDefault", seccomp)
	}
}

// checkProbesAndPorts: readiness on /readyz and liveness on /healthz on the
// http port, which is the one bff.yaml listens on; metrics_listen on the
// metrics port; the binary reads the mounted bff.yaml.
func (r rendered) checkProbesAndPorts(t *testing.T) {
	t.Helper()
	c := r.bff
	for _, p := range []struct {
		name  string
		probe *probe
		path  string
	}{
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: no httpGet probe", p.name)
			continue
		}
		if got := p.probe.HTTPGet; got.Path != p.path || got.Port != "http" {
			t.Errorf("%s = GET %s on port %q, want GET %s on port \"http\"", p.name, got.Path, got.Port, p.path)
		}
	}
	if got, want := r.cfg("listen"), ":"+strconv.Itoa(r.port(t, "http")); got != want {
		t.Errorf("bff.yaml listen = %q, want %q (the container's http port)", got, want)
	}
	if ml := r.cfg("metrics_listen"); ml != "" {
		if want := ":" + strconv.Itoa(r.port(t, "metrics")); ml != want {
			t.Errorf("bff.yaml metrics_listen = %q, want %q (the container's metrics port)", ml, want)
		}
	}
	wantArgs := []string{"-config", path.Join(r.configDir, "bff.yaml")}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("container args = %q, want %q (the mounted ConfigMap)", c.Args, wantArgs)
	}
}

// checkShutdown: a preStop sleep, then SIGTERM and the drain of
// server.shutdown_timeout, all within terminationGracePeriodSeconds.
func (r rendered) checkShutdown(t *testing.T) {
	t.Helper()
	shutdown, err := time.ParseDuration(r.cfg("server.shutdown_timeout"))
	if err != nil {
		t.Fatalf("bff.yaml server.shutdown_timeout = %q: %v", r.cfg("server.shutdown_timeout"), err)
	}
	sleep := 0
	if s := r.bff.Lifecycle.PreStop.Sleep; s != nil {
		sleep = s.Seconds
	}
	if sleep <= 0 {
		t.Errorf("preStop sleep = %ds, want a positive sleep before SIGTERM", sleep)
	}
	if grace := time.Duration(r.pod.TerminationGracePeriodSeconds) * time.Second; grace <= shutdown+time.Duration(sleep)*time.Second {
		t.Errorf("terminationGracePeriodSeconds = %v, want more than shutdown_timeout %v + preStop sleep %ds", grace, shutdown, sleep)
	}
}

// checkSecretFiles asserts that the secrets are files of the mounted Secret,
// named by the *_file keys, and that no secret value is in the ConfigMap.
// It returns the Secret's data (nil with an existing Secret).
func (r rendered) checkSecretFiles(t *testing.T, want ...string) map[string][]byte {
	t.Helper()
	files := r.fileKeys()
	for _, key := range want {
		if _, ok := files[key]; !ok {
			t.Errorf("bff.yaml has no %s; *_file keys: %v", key, files)
		}
	}
	for key, p := range files {
		if path.Dir(p) != r.secretDir {
			t.Errorf("bff.yaml %s = %q, want a file in the Secret's mount %s", key, p, r.secretDir)
		}
	}
	for _, key := range []string{"oidc.client_secret", "session.encryption_keys", "session.redis_url", "session.redis_password", "session.postgres_url"} {
		if v := r.cfg(key); v != "" {
			t.Errorf("bff.yaml sets %s inline; secrets must be files", key)
		}
	}
	v, _ := r.volume("secrets")
	if v.Secret == nil {
		t.Fatal("no secret volume named secrets")
	}
	if v.Secret.DefaultMode&0o007 != 0 {
		t.Errorf("secret volume defaultMode = %#o, want no access for others", v.Secret.DefaultMode)
	}
	if !r.ms.has("Secret") {
		return nil
	}
	var s secret
	r.ms.one(t, "Secret", &s)
	if v.Secret.SecretName != s.Metadata.Name {
		t.Errorf("secret volume mounts Secret %q, want the chart's %q", v.Secret.SecretName, s.Metadata.Name)
	}
	data := map[string][]byte{}
	for k, b64 := range s.Data {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("Secret data %s is not base64: %v", k, err)
		}
		data[k] = b
		if !slices.ContainsFunc(values(files), func(p string) bool { return path.Base(p) == k }) {
			t.Errorf("Secret entry %s is named by no *_file key", k)
		}
		cm := strings.Join(values(r.cm.Data), "\n")
		if secretValue := strings.TrimSpace(string(b)); strings.Contains(cm, secretValue) || strings.Contains(cm, b64) {
			t.Errorf("the ConfigMap contains the value of Secret entry %s", k)
		}
		for line := range strings.Lines(string(b)) {
			if line = strings.TrimSpace(line); line != "" && strings.Contains(cm, line) {
				t.Errorf("the ConfigMap contains a line of Secret entry %s", k)
			}
		}
	}
	if _, ok := r.dep.Spec.Template.Metadata.Annotations["checksum/secret"]; !ok {
		t.Error("pod annotations lack checksum/secret (pods would not roll when the Secret changes)")
	}
	return data
}

// load writes the rendered bff.yaml with its *_file keys pointing at files
// in a temporary directory (holding the Secret's entry when it has one,
// else fake) and runs it through the BFF's own loader and validation.
func (r rendered) load(t *testing.T, secretData map[string][]byte) config.Config {
	t.Helper()
	dir := t.TempDir()
	var doc map[string]any // a copy: r.config stays as rendered
	if err := yaml.Unmarshal([]byte(r.cm.Data["bff.yaml"]), &doc); err != nil {
		t.Fatal(err)
	}
	fakes := map[string]string{
		"oidc.client_secret_file":      "fake-client-secret",
		"session.encryption_keys_file": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) + "\n",
		"session.redis_url_file":       "redis://127.0.0.1:6379/0",
		"session.redis_password_file":  "fake-redis-password",
		"session.postgres_url_file":    "postgres://bff@127.0.0.1:5432/bff",
	}
	for key, p := range r.fileKeys() {
		content, ok := secretData[path.Base(p)]
		if !ok {
			fake, ok := fakes[key]
			if !ok {
				t.Fatalf("no fake content for %s", key)
			}
			content = []byte(fake)
		}
		local := filepath.Join(dir, path.Base(p))
		if err := os.WriteFile(local, content, 0o600); err != nil {
			t.Fatal(err)
		}
		section, field, _ := strings.Cut(key, ".")
		doc[section].(map[string]any)[field] = local
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "bff.yaml")
	if err := os.WriteFile(cfgPath, out, 0o600); err != nil {
		t.Fatal(err)
	}
	// The pod's environment: no BFF_* variable (service links are off), the
	// literal env of the container.
	environ := []string{"HOSTNAME=bff-7d9f-abcde", "KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443"}
	for _, e := range r.bff.Env {
		if e.Value != "" {
			environ = append(environ, e.Name+"="+e.Value)
		}
	}
	cfg, err := config.Load(cfgPath, environ)
	if err != nil {
		t.Fatalf("config.Load(rendered bff.yaml) = %v\n%s", err, out)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate(rendered bff.yaml) = %v\n%s", err, out)
	}
	return cfg
}
