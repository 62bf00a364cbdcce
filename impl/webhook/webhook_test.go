package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/config"
)

func TestNewProblemsIgnoresExistingOnes(t *testing.T) {
	cur := config.Input{Pools: []config.PoolSpec{
		{Name: "a", Addresses: []string{"10.0.0.0/24"}},
		{Name: "b", Addresses: []string{"10.0.0.128/25"}}, // already overlapping a
	}}
	unrelated := cur
	unrelated.Pools = append(clone(cur.Pools), config.PoolSpec{Name: "c", Addresses: []string{"10.1.0.0/24"}})
	if got := newProblems(cur, unrelated); len(got) != 0 {
		t.Errorf("an unrelated valid pool was blocked by old problems: %v", got)
	}
	bad := cur
	bad.Pools = append(clone(cur.Pools), config.PoolSpec{Name: "d", Addresses: []string{"10.1.0.0/24", "nope"}})
	got := newProblems(cur, bad)
	if len(got) != 1 || !strings.Contains(got[0].Error(), `IPAddressPool "d": spec.addresses[1]`) {
		t.Errorf("new problems = %v", got)
	}
}

func clone[T any](s []T) []T { return append([]T(nil), s...) }

const ns = "metallb-system"

// validator serves a configuration with a BFDProfile and a Community, both in use, and one of
// each that nothing uses.
func validator(t *testing.T) *Validator {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, v1beta1.AddToScheme, v1beta2.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	objs := []client.Object{
		&v1beta1.IPAddressPool{ObjectMeta: meta("default"), Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"172.18.255.200-172.18.255.250"}}},
		&v1beta1.BFDProfile{ObjectMeta: meta("fast")},
		&v1beta1.BFDProfile{ObjectMeta: meta("spare")},
		&v1beta1.Community{ObjectMeta: meta("aliases"), Spec: v1beta1.CommunitySpec{Communities: []v1beta1.CommunityAlias{{Name: "no-advertise", Value: "65535:65282"}}}},
		&v1beta1.Community{ObjectMeta: meta("unused"), Spec: v1beta1.CommunitySpec{Communities: []v1beta1.CommunityAlias{{Name: "gold", Value: "64512:1"}}}},
		&v1beta2.BGPPeer{ObjectMeta: meta("router"), Spec: v1beta2.BGPPeerSpec{MyASN: 64500, ASN: 64501, Address: "172.18.0.5", BFDProfile: "fast"}},
		&v1beta2.BGPPeer{ObjectMeta: meta("router2"), Spec: v1beta2.BGPPeerSpec{MyASN: 64500, ASN: 64501, Address: "172.18.0.6", BFDProfile: "fast"}},
		&v1beta1.BGPAdvertisement{ObjectMeta: meta("bgp"), Spec: v1beta1.BGPAdvertisementSpec{Communities: []string{"65535:65281", "no-advertise"}}},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
	return &Validator{Reader: c, Namespace: ns, Log: logr.Discard()}
}

func request(op admissionv1.Operation, kind, name string, obj any) admission.Request {
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: op, Namespace: ns, Name: name,
		Kind: metav1.GroupVersionKind{Group: "metallb.io", Version: "v1beta1", Kind: kind}}}
	if obj != nil {
		raw, _ := json.Marshal(obj)
		req.Object.Raw = raw
	} else {
		req.OldObject.Raw = []byte(`{}`)
	}
	return req
}

// Deleting a BFDProfile or a Community in use is refused, naming every referrer; deleting one
// that nothing uses, or any other kind, is allowed (issue #13 item 3).
func TestDeleteOfReferencedObjects(t *testing.T) {
	tests := []struct {
		kind, name string
		allowed    bool
		mentions   []string
	}{
		{kind: "BFDProfile", name: "fast", mentions: []string{`BFDProfile "fast"`, `BGPPeer "router" (spec.bfdProfile)`, `BGPPeer "router2"`}},
		{kind: "BFDProfile", name: "spare", allowed: true},
		{kind: "Community", name: "aliases", mentions: []string{`Community "aliases"`, `BGPAdvertisement "bgp" (spec.communities[1], alias "no-advertise")`}},
		{kind: "Community", name: "unused", allowed: true},
		{kind: "IPAddressPool", name: "default", allowed: true},
		{kind: "BGPPeer", name: "router", allowed: true},
	}
	v := validator(t)
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			resp := v.Handle(context.Background(), request(admissionv1.Delete, tt.kind, tt.name, nil))
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v (%s)", resp.Allowed, tt.allowed, resp.Result.Message)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(resp.Result.Message, m) {
					t.Errorf("message %q does not name %s", resp.Result.Message, m)
				}
			}
		})
	}
}

// A reference to an object that does not exist yet is allowed with a warning, so that a
// multi-document file applies in any order (issue #13 item 7); a bad address is still refused.
func TestCreateWithDanglingReferenceIsAllowedWithAWarning(t *testing.T) {
	v := validator(t)
	tests := []struct {
		name    string
		kind    string
		obj     any
		allowed bool
		say     string
	}{
		{name: "L2Advertisement naming a pool applied later", kind: "L2Advertisement",
			obj:     v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "l2"}, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"later"}}},
			allowed: true, say: `L2Advertisement "l2": spec.ipAddressPools[0]: IPAddressPool "later" does not exist`},
		{name: "BGPPeer naming a BFDProfile applied later", kind: "BGPPeer",
			obj:     v1beta2.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p3"}, Spec: v1beta2.BGPPeerSpec{MyASN: 64500, ASN: 64501, Address: "172.18.0.7", BFDProfile: "slow"}},
			allowed: true, say: `BGPPeer "p3": spec.bfdProfile`},
		{name: "pool with an IPv4-mapped range", kind: "IPAddressPool",
			obj:     v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mapped"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"::ffff:10.0.0.1-::ffff:10.0.0.9"}}},
			allowed: false, say: `IPAddressPool "mapped": spec.addresses[0]`},
		{name: "BGPPeer with a zoned address", kind: "BGPPeer",
			obj:     v1beta2.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p4"}, Spec: v1beta2.BGPPeerSpec{MyASN: 64500, ASN: 64501, Address: "fe80::1%eth0"}},
			allowed: false, say: `BGPPeer "p4": spec.peerAddress`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := v.Handle(context.Background(), request(admissionv1.Create, tt.kind, tt.name, tt.obj))
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v (%s)", resp.Allowed, tt.allowed, resp.Result.Message)
			}
			said := strings.Join(resp.Warnings, "\n")
			if !tt.allowed {
				said = resp.Result.Message
			}
			if !strings.Contains(said, tt.say) {
				t.Errorf("response says %q, want it to contain %q", said, tt.say)
			}
		})
	}
}
