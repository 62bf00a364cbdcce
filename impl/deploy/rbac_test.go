package deploy_test

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestControllerRBACLeastPrivilege: the controller writes Service status (the AddressAssigned
// condition names the pool; no annotation) and, on the Service itself, only the cleanup finalizer,
// by patch: its ClusterRole grants patch of Services and no update, create or delete.
func TestControllerRBACLeastPrivilege(t *testing.T) {
	var role *rbacv1.ClusterRole
	for _, u := range documents(t, "ironlb-native.yaml") {
		if u.GetKind() == "ClusterRole" && u.GetName() == "ironlb:controller" {
			role = &rbacv1.ClusterRole{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, role); err != nil {
				t.Fatal(err)
			}
		}
	}
	if role == nil {
		t.Fatal("no ClusterRole ironlb:controller in ironlb-native.yaml")
	}
	verbs := map[string][]string{}
	for i, r := range role.Rules {
		if !slices.Contains(r.APIGroups, "") {
			continue
		}
		for _, res := range r.Resources {
			if res == "services" || res == "services/status" || res == "*" {
				if len(r.ResourceNames) > 0 {
					t.Errorf("rules[%d]: %s restricted by resourceNames", i, res)
				}
				verbs[res] = append(verbs[res], r.Verbs...)
			}
		}
	}
	want := map[string][]string{"services": {"get", "list", "patch", "watch"}, "services/status": {"patch", "update"}}
	for res, w := range want {
		got := slices.Sorted(slices.Values(verbs[res]))
		if !slices.Equal(got, w) {
			t.Errorf("ClusterRole ironlb:controller, %s: verbs %v, want exactly %v", res, got, w)
		}
	}
	if v, ok := verbs["*"]; ok {
		t.Errorf("ClusterRole ironlb:controller grants %v on every core resource", v)
	}
}

// TestSpeakerSecretsGetOnly: the speaker reads only the Secrets its BGPPeers name, by name, so its
// Role lets it get Secrets and never list or watch them. A get without resourceNames still reaches
// any Secret whose name is known (the memberlist key and the webhook's certificates have fixed
// names): the manifest says how to narrow it to the password Secrets, and a Secret the speaker may
// not get costs only the peer that names it (impl/config/fromapi TestListReadsOnlyNamedSecrets).
func TestSpeakerSecretsGetOnly(t *testing.T) {
	var role *rbacv1.Role
	for _, u := range documents(t, "ironlb-native.yaml") {
		if u.GetKind() == "Role" && u.GetName() == "ironlb-speaker" {
			role = &rbacv1.Role{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, role); err != nil {
				t.Fatal(err)
			}
		}
	}
	if role == nil {
		t.Fatal("no Role ironlb-speaker in ironlb-native.yaml")
	}
	var verbs []string
	for _, r := range role.Rules {
		if slices.Contains(r.APIGroups, "") && (slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "*")) {
			verbs = append(verbs, r.Verbs...)
		}
	}
	if !slices.Equal(verbs, []string{"get"}) {
		t.Errorf("Role ironlb-speaker, secrets: verbs %v, want exactly [get]", verbs)
	}
}
