package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// This file runs helm template and decodes the rendered objects.

// helmTemplate runs helm template on the chart with args; it returns the
// manifests, or the error with helm's stderr.
func helmTemplate(t *testing.T, args ...string) (manifests, error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), append([]string{"template", release, chartDir, "--namespace", "apps"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm template %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return parseManifests(t, stdout.Bytes()), nil
}

func mustRender(t *testing.T, args ...string) manifests {
	t.Helper()
	m, err := helmTemplate(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// manifest is one rendered object: its kind, name, YAML node and raw text.
type manifest struct {
	kind, name string
	node       *yaml.Node
}

type manifests []manifest

func parseManifests(t *testing.T, out []byte) manifests {
	t.Helper()
	var ms manifests
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered manifests are not YAML: %v\n%s", err, out)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue // an empty document (a template that rendered nothing)
		}
		var head struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		}
		if err := doc.Decode(&head); err != nil {
			t.Fatalf("manifest: %v", err)
		}
		if head.Kind == "" || head.Metadata.Name == "" {
			t.Fatalf("manifest without kind or name:\n%s", out)
		}
		ms = append(ms, manifest{kind: head.Kind, name: head.Metadata.Name, node: &doc})
	}
	if len(ms) == 0 {
		t.Fatal("helm template rendered nothing")
	}
	return ms
}

// one decodes the single object of kind into v; it fails t when there is
// not exactly one.
func (ms manifests) one(t *testing.T, kind string, v any) {
	t.Helper()
	var found []manifest
	for _, m := range ms {
		if m.kind == kind {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("rendered %d objects of kind %s, want 1 (kinds: %v)", len(found), kind, ms.kinds())
	}
	if err := found[0].node.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", kind, err)
	}
}

func (ms manifests) has(kind string) bool {
	return slices.Contains(ms.kinds(), kind)
}

func (ms manifests) kinds() []string {
	var ks []string
	for _, m := range ms {
		ks = append(ks, m.kind)
	}
	return ks
}

// The parts of the rendered objects the tests look at.
type (
	objectMeta struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	deployment struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Replicas *int `yaml:"replicas"`
			Strategy struct {
				Type string `yaml:"type"`
			} `yaml:"strategy"`
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata objectMeta `yaml:"metadata"`
				Spec     podSpec    `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	podSpec struct {
		EnableServiceLinks            *bool           `yaml:"enableServiceLinks"`
		AutomountServiceAccountToken  *bool           `yaml:"automountServiceAccountToken"`
		TerminationGracePeriodSeconds int             `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               securityContext `yaml:"securityContext"`
		Containers                    []container     `yaml:"containers"`
		Volumes                       []volume        `yaml:"volumes"`
	}
	securityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		RunAsUser                *int  `yaml:"runAsUser"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	}
	container struct {
		Name            string          `yaml:"name"`
		Args            []string        `yaml:"args"`
		SecurityContext securityContext `yaml:"securityContext"`
		Env             []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"env"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		Lifecycle      struct {
			PreStop struct {
				Sleep *struct {
					Seconds int `yaml:"seconds"`
				} `yaml:"sleep"`
			} `yaml:"preStop"`
		} `yaml:"lifecycle"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	probe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	}
	volume struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		Secret *struct {
			SecretName  string `yaml:"secretName"`
			DefaultMode int    `yaml:"defaultMode"`
		} `yaml:"secret"`
		EmptyDir              *struct{} `yaml:"emptyDir"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	}
	configMap struct {
		Metadata objectMeta        `yaml:"metadata"`
		Data     map[string]string `yaml:"data"`
	}
	secret struct {
		Metadata objectMeta        `yaml:"metadata"`
		Data     map[string]string `yaml:"data"`
	}
	service struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
)

func hasServicePort(svc service, name, target string) bool {
	for _, p := range svc.Spec.Ports {
		if p.Name == name && p.TargetPort == target {
			return true
		}
	}
	return false
}

// selects reports whether every label of sel is in labels (and sel is not empty).
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func volumeNamed(vs []volume, name string) (volume, bool) {
	for _, v := range vs {
		if v.Name == name {
			return v, true
		}
	}
	return volume{}, false
}

func isTrue(b *bool) bool { return b != nil && *b }

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func values(m map[string]string) []string {
	vs := make([]string, 0, len(m))
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}
