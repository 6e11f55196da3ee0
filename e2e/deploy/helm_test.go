package deploy_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	chartDir       = "../../deploy/helm/bff"
	multiValues    = chartDir + "/ci/multi-replica-values.yaml"
	release        = "bff" // a Service named bff is the case where service links would inject BFF_*
	envRequire     = "BFF_TEST_REQUIRE"
	sharedStoreMsg = "more than one replica needs a shared session store"
)

// helmBinary returns the helm binary: on PATH, else in $(go env GOPATH)/bin.
// Without one it skips t, or fails it when BFF_TEST_REQUIRE lists "helm".
func helmBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for dir := range strings.SplitSeq(strings.TrimSpace(string(out)), string(os.PathListSeparator)) {
			p := filepath.Join(dir, "bin", "helm")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	const msg = "helm not found on PATH or in $(go env GOPATH)/bin; install it with: go install helm.sh/helm/v4/cmd/helm@v4.3.2"
	if required("helm") {
		t.Fatalf("%s (%s=%q requires it)", msg, envRequire, os.Getenv(envRequire))
	}
	t.Skip(msg)
	return ""
}

func required(what string) bool {
	for item := range strings.SplitSeq(os.Getenv(envRequire), ",") {
		if strings.EqualFold(strings.TrimSpace(item), what) {
			return true
		}
	}
	return false
}

func TestChartDefaultValues(t *testing.T) {
	t.Parallel()
	r := renderChart(t)
	r.checkPod(t)
	if r.dep.Spec.Replicas == nil || *r.dep.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", deref(r.dep.Spec.Replicas))
	}
	data := r.checkSecretFiles(t, "oidc.client_secret_file", "session.encryption_keys_file")
	if len(data) != 0 {
		t.Errorf("default Secret holds %v, want nothing (no secret has a default)", keys(data))
	}
	if got := r.cfg("session.store"); got != "bolt" {
		t.Errorf("session.store = %q, want bolt", got)
	}
	// The bolt file must be on a writable volume: the root file system is read-only.
	dbDir := path.Dir(r.cfg("session.path"))
	mounted := false
	for _, m := range r.bff.VolumeMounts {
		if m.MountPath == dbDir {
			v, _ := r.volume(m.Name)
			mounted = !m.ReadOnly && v.EmptyDir != nil
		}
	}
	if !mounted {
		t.Errorf("session.path %q is not on a writable emptyDir mount: %+v", r.cfg("session.path"), r.bff.VolumeMounts)
	}
	for _, kind := range []string{"HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceMonitor", "Ingress", "NetworkPolicy", "PersistentVolumeClaim"} {
		if r.ms.has(kind) {
			t.Errorf("default values render a %s, want none (it is opt-in)", kind)
		}
	}
	var svc service
	r.ms.one(t, "Service", &svc)
	if !hasServicePort(svc, "http", "http") {
		t.Errorf("Service ports %+v lack http -> http", svc.Spec.Ports)
	}
	cfg := r.load(t, nil)
	if cfg.OIDC.ClientSecret != "fake-client-secret" || len(cfg.Session.EncryptionKeys) != 1 {
		t.Errorf("loaded config did not read the secret files: client secret set %v, %d keys", cfg.OIDC.ClientSecret != "", len(cfg.Session.EncryptionKeys))
	}
	if cfg.Server.ShutdownTimeout != 20*time.Second {
		t.Errorf("server.shutdown_timeout = %v, want the values' 20s", cfg.Server.ShutdownTimeout)
	}
}

func TestChartSecretValuesStayInSecret(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString([]byte("sentinel-encryption-key-32-bytes"))
	r := renderChart(t, "--set", "secret.clientSecret=sentinel-client-secret", "--set", "secret.encryptionKeys={"+key+"}")
	data := r.checkSecretFiles(t, "oidc.client_secret_file", "session.encryption_keys_file")
	if got := string(data[path.Base(r.cfg("oidc.client_secret_file"))]); got != "sentinel-client-secret" {
		t.Errorf("Secret entry of oidc.client_secret_file = %q, want the client secret", got)
	}
	cfg := r.load(t, data)
	if cfg.OIDC.ClientSecret != "sentinel-client-secret" || !slices.Equal(cfg.Session.EncryptionKeys, []string{key}) {
		t.Error("the BFF, reading the Secret's files, does not get the configured client secret and key")
	}
	for _, m := range r.ms {
		if m.kind == "Secret" {
			continue
		}
		out, _ := yaml.Marshal(m.node)
		if bytes.Contains(out, []byte("sentinel-")) || bytes.Contains(out, []byte(key)) {
			t.Errorf("%s %s contains a secret value", m.kind, m.name)
		}
	}
}

func TestChartMultiReplicaValues(t *testing.T) {
	t.Parallel()
	r := renderChart(t, "-f", multiValues)
	r.checkPod(t)
	if r.dep.Spec.Replicas != nil {
		t.Errorf("replicas = %d with autoscaling on, want unset (the HPA owns it)", *r.dep.Spec.Replicas)
	}
	if got := r.cfg("session.store"); got != "redis" {
		t.Errorf("session.store = %q, want redis", got)
	}
	data := r.checkSecretFiles(t, "oidc.client_secret_file", "session.encryption_keys_file", "session.redis_url_file")
	if len(data) != 3 {
		t.Errorf("Secret entries = %v, want client secret, keys and Redis URL", keys(data))
	}
	if p := r.cfg("session.path"); p != "" {
		t.Errorf("session.path = %q with Redis, want none", p)
	}
	if _, ok := r.volume("data"); ok {
		t.Error("a data volume with Redis: the pods must be stateless")
	}

	var hpa struct {
		Spec struct {
			MaxReplicas    int `yaml:"maxReplicas"`
			ScaleTargetRef struct {
				Kind string `yaml:"kind"`
				Name string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
		} `yaml:"spec"`
	}
	r.ms.one(t, "HorizontalPodAutoscaler", &hpa)
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != r.dep.Metadata.Name || hpa.Spec.MaxReplicas != 12 {
		t.Errorf("HPA scales %s %s up to %d, want Deployment %s up to 12", ref.Kind, ref.Name, hpa.Spec.MaxReplicas, r.dep.Metadata.Name)
	}
	var pdb struct {
		Spec struct {
			MaxUnavailable any `yaml:"maxUnavailable"`
			Selector       struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		} `yaml:"spec"`
	}
	r.ms.one(t, "PodDisruptionBudget", &pdb)
	if !selects(pdb.Spec.Selector.MatchLabels, r.dep.Spec.Template.Metadata.Labels) || fmt.Sprint(pdb.Spec.MaxUnavailable) != "1" {
		t.Errorf("PDB maxUnavailable %v selector %v, want 1 and the pods' labels %v", pdb.Spec.MaxUnavailable, pdb.Spec.Selector.MatchLabels, r.dep.Spec.Template.Metadata.Labels)
	}

	var sm struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Endpoints []struct {
				Port string `yaml:"port"`
				Path string `yaml:"path"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	r.ms.one(t, "ServiceMonitor", &sm)
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints = %+v, want port metrics path /metrics", sm.Spec.Endpoints)
	}
	var svc service
	r.ms.one(t, "Service", &svc)
	if !hasServicePort(svc, "metrics", "metrics") || !hasServicePort(svc, "http", "http") {
		t.Errorf("Service ports = %+v, want http and metrics", svc.Spec.Ports)
	}
	if !selects(sm.Spec.Selector.MatchLabels, svc.Spec.Selector) || !selects(svc.Spec.Selector, r.dep.Spec.Template.Metadata.Labels) {
		t.Errorf("ServiceMonitor selector %v / Service selector %v do not reach the pods %v", sm.Spec.Selector.MatchLabels, svc.Spec.Selector, r.dep.Spec.Template.Metadata.Labels)
	}
	if r.cfg("metrics_listen") == "" {
		t.Error("bff.yaml has no metrics_listen: /metrics would be on the public listener")
	}
	if !r.ms.has("Ingress") || !r.ms.has("NetworkPolicy") {
		t.Errorf("kinds = %v, want Ingress and NetworkPolicy (enabled in the values)", r.ms.kinds())
	}

	cfg := r.load(t, data)
	if !strings.HasPrefix(cfg.Session.RedisURL, "rediss://") || len(cfg.Session.EncryptionKeys) != 2 {
		t.Errorf("loaded config: Redis URL from the Secret %v, %d keys; want the values' rediss URL and 2 keys", strings.HasPrefix(cfg.Session.RedisURL, "rediss://"), len(cfg.Session.EncryptionKeys))
	}
	if cfg.Server.ShutdownTimeout != 30*time.Second {
		t.Errorf("server.shutdown_timeout = %v, want the values' 30s", cfg.Server.ShutdownTimeout)
	}
}

// Several replicas on the embedded bolt store would each keep their own
// sessions: the chart must refuse to render, saying why.
func TestChartRefusesSeveralReplicasWithoutSharedStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  []string
		want string // "" renders
	}{
		{"two replicas on bolt", []string{"replicaCount=2"}, sharedStoreMsg},
		{"autoscaling on bolt", []string{"autoscaling.enabled=true", "autoscaling.maxReplicas=4"}, sharedStoreMsg},
		{"redis without its URL", []string{"replicaCount=2", "config.session.store=redis"}, "no Redis is configured"},
		{"postgres without its URL", []string{"replicaCount=2", "config.session.store=postgres"}, "no PostgreSQL is configured"},
		{"one replica on bolt", []string{"replicaCount=1"}, ""},
		{"autoscaling to one on bolt", []string{"autoscaling.enabled=true", "autoscaling.minReplicas=1", "autoscaling.maxReplicas=1"}, ""},
		{"two replicas on redis", []string{"replicaCount=2", "config.session.store=redis", "secret.redisURL=redis://redis:6379/0"}, ""},
		{"two replicas on redis from an existing Secret", []string{"replicaCount=2", "config.session.store=redis", "secret.existingSecret=bff-prod"}, ""},
		{"two replicas on postgres", []string{"replicaCount=2", "config.session.store=postgres", "secret.postgresURL=postgres://bff@db:5432/bff"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var args []string
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			ms, err := helmTemplate(t, args...)
			if tc.want != "" {
				if err == nil {
					t.Fatalf("helm template %v rendered, want a failure saying %q", tc.set, tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("helm template %v failed with %v, want the message %q", tc.set, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var dep deployment
			ms.one(t, "Deployment", &dep)
			store := "bolt"
			for _, s := range tc.set {
				if v, ok := strings.CutPrefix(s, "config.session.store="); ok {
					store = v
				}
			}
			_, hasData := volumeNamed(dep.Spec.Template.Spec.Volumes, "data")
			if hasData != (store == "bolt") {
				t.Errorf("data volume present = %v with store %s, want %v", hasData, store, store == "bolt")
			}
		})
	}
}

func TestChartPostgresStore(t *testing.T) {
	t.Parallel()
	r := renderChart(t, "--set", "replicaCount=3", "--set", "config.session.store=postgres", "--set", "secret.postgresURL=postgres://bff:sentinel-pg@db:5432/bff")
	r.checkPod(t)
	data := r.checkSecretFiles(t, "session.postgres_url_file", "session.encryption_keys_file")
	if got := string(data[path.Base(r.cfg("session.postgres_url_file"))]); got != "postgres://bff:sentinel-pg@db:5432/bff" {
		t.Errorf("Secret entry of session.postgres_url_file = %q, want the URL", got)
	}
	if r.cfg("session.redis_url_file") != "" || r.cfg("session.path") != "" {
		t.Errorf("postgres store renders redis_url_file %q, path %q; want neither", r.cfg("session.redis_url_file"), r.cfg("session.path"))
	}
	// The rendered config is one the BFF loads and accepts.
	cfg := r.load(t, data)
	if cfg.Session.Store != "postgres" || cfg.Session.PostgresURL != "postgres://bff:sentinel-pg@db:5432/bff" {
		t.Errorf("loaded session store %q, postgres_url %q; want postgres and the URL from the Secret", cfg.Session.Store, cfg.Session.PostgresURL)
	}
}

func TestChartExistingSecret(t *testing.T) {
	t.Parallel()
	r := renderChart(t, "--set", "secret.existingSecret=bff-prod", "--set", "config.session.store=redis",
		"--set", "secret.existingSecretHasRedisPassword=true")
	r.checkPod(t)
	if r.ms.has("Secret") {
		t.Error("a Secret is rendered although secret.existingSecret is set")
	}
	r.checkSecretFiles(t, "oidc.client_secret_file", "session.encryption_keys_file", "session.redis_url_file", "session.redis_password_file")
	if v, _ := r.volume("secrets"); v.Secret == nil || v.Secret.SecretName != "bff-prod" {
		t.Errorf("secret volume = %+v, want Secret bff-prod", v.Secret)
	}
	if _, ok := r.dep.Spec.Template.Metadata.Annotations["checksum/secret"]; ok {
		t.Error("checksum/secret annotation with an existing Secret: the chart cannot see its content")
	}
	cfg := r.load(t, nil)
	if cfg.Session.RedisPassword != "fake-redis-password" {
		t.Error("session.redis_password_file was not read")
	}
}

func TestChartRefusesSecretsAndOwnedKeysInConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ set, want string }{
		{"config.oidc.client_secret=s3cret", "must not be in config"},
		{"config.session.redis_url=redis://u:p@redis:6379/0", "must not be in config"},
		{"config.session.encryption_keys={a}", "must not be in config"},
		{"config.oidc.client_secret_file=/elsewhere", "must not be in config"},
		{"config.listen=:9999", "containerPorts.http"},
		{"config.server.shutdown_timeout=5s", "shutdown.timeoutSeconds"},
		{"config.session.path=/data/x.db", "set by the chart"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			t.Parallel()
			_, err := helmTemplate(t, "--set", tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template --set %s = %v, want a failure saying %q", tc.set, err, tc.want)
			}
		})
	}
}

func TestChartShutdownAndPersistence(t *testing.T) {
	t.Parallel()
	t.Run("grace follows the shutdown timeout", func(t *testing.T) {
		r := renderChart(t, "--set", "shutdown.timeoutSeconds=90", "--set", "shutdown.preStopSleepSeconds=15")
		r.checkPod(t) // grace > 90s + 15s
		if got := r.cfg("server.shutdown_timeout"); got != "90s" {
			t.Errorf("server.shutdown_timeout = %q, want 90s", got)
		}
		if s := r.bff.Lifecycle.PreStop.Sleep; s == nil || s.Seconds != 15 {
			t.Errorf("preStop sleep = %+v, want 15s", s)
		}
	})
	t.Run("config change rolls the pods", func(t *testing.T) {
		a := renderChart(t)
		b := renderChart(t, "--set", "config.public_url=https://other.example.com")
		ca, cb := a.dep.Spec.Template.Metadata.Annotations["checksum/config"], b.dep.Spec.Template.Metadata.Annotations["checksum/config"]
		if ca == "" || ca == cb {
			t.Errorf("checksum/config = %q before and %q after a config change, want a change", ca, cb)
		}
	})
	t.Run("persistent bolt file", func(t *testing.T) {
		r := renderChart(t, "--set", "persistence.enabled=true")
		var pvc struct {
			Metadata objectMeta `yaml:"metadata"`
		}
		r.ms.one(t, "PersistentVolumeClaim", &pvc)
		v, _ := r.volume("data")
		if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Metadata.Name {
			t.Errorf("data volume = %+v, want the claim %s", v, pvc.Metadata.Name)
		}
		if r.dep.Spec.Strategy.Type != "Recreate" {
			t.Errorf("strategy = %q with a bolt PVC, want Recreate (the file is locked by one pod)", r.dep.Spec.Strategy.Type)
		}
	})
}
