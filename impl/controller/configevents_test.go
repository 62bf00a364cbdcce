package controller

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/configstate"
)

// A dangling reference costs only its holder: the configuration loads, ConfigurationState says
// Valid and Degraded with the warning, and one Warning event is posted per new warning, not at
// every reload (issue #13 items 3 and 7).
func TestDanglingReferencesAreWarningsWithEvents(t *testing.T) {
	scheme, err := ironscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: "metallb-system", Name: name} }
	c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1beta1.ConfigurationState{}).WithObjects(
		&v1beta1.IPAddressPool{ObjectMeta: om("default"), Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"172.18.255.200/29"}}},
		&v1beta1.L2Advertisement{ObjectMeta: om("l2"), Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"default", "later"}}},
		&v1beta2.BGPPeer{ObjectMeta: om("router"), Spec: v1beta2.BGPPeerSpec{MyASN: 64500, ASN: 64501, Address: "172.18.0.5", BFDProfile: "slow"}},
	).Build()
	rec := events.NewFakeRecorder(100)
	ctl := New(c, Options{Log: testr.New(t), Recorder: rec, Metrics: NewMetrics(prometheus.NewRegistry())})
	ctx := context.Background()
	reload := func() {
		t.Helper()
		ctl.mu.Lock()
		defer ctl.mu.Unlock()
		if err := ctl.reloadConfig(ctx); err != nil {
			t.Fatal(err)
		}
	}
	drain := func() []string {
		var out []string
		for {
			select {
			case e := <-rec.Events:
				out = append(out, e)
			default:
				return out
			}
		}
	}
	state := func() *v1beta1.ConfigurationState {
		t.Helper()
		st := &v1beta1.ConfigurationState{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: "metallb-system", Name: ConfigurationStateName}, st); err != nil {
			t.Fatal(err)
		}
		return st
	}

	reload()
	if ctl.cfg == nil || ctl.cfg.Pools["default"] == nil {
		t.Fatalf("the configuration was not loaded: %v", ctl.cfgErr)
	}
	got := drain()
	if len(got) != 2 || !strings.Contains(strings.Join(got, "\n"), "spec.bfdProfile") || !strings.Contains(strings.Join(got, "\n"), "spec.ipAddressPools[1]") {
		t.Errorf("events = %q, want one per warning", got)
	}
	for _, e := range got {
		if !strings.HasPrefix(e, corev1.EventTypeWarning+" ConfigurationWarning") {
			t.Errorf("event %q is not a ConfigurationWarning warning", e)
		}
	}
	st := state()
	d := meta.FindStatusCondition(st.Status.Conditions, configstate.ConditionDegraded)
	if st.Status.Result != v1beta1.ConfigurationValid || d == nil || d.Status != metav1.ConditionTrue || !strings.Contains(d.Message, `BGPPeer "router"`) {
		t.Errorf("ConfigurationState = %+v", st.Status)
	}

	reload()
	if got := drain(); len(got) != 0 {
		t.Errorf("an unchanged warning was posted again: %q", got)
	}

	if err := c.Create(ctx, &v1beta1.BFDProfile{ObjectMeta: om("slow")}); err != nil {
		t.Fatal(err)
	}
	reload()
	if got := drain(); len(got) != 0 {
		t.Errorf("events after a warning went away: %q", got)
	}
	if d := meta.FindStatusCondition(state().Status.Conditions, configstate.ConditionDegraded); d == nil || strings.Contains(d.Message, "BGPPeer") {
		t.Errorf("Degraded = %+v, want only the L2Advertisement's warning", d)
	}
	if ctl.cfg.Peers["router"] == nil {
		t.Error("the peer must run once its BFDProfile exists")
	}

	// An invalid object written past the webhook (a zoned IPv6 pool address): the configuration is
	// invalid, the last valid one stays, and the object gets an event naming the field, once.
	if err := c.Create(ctx, &v1beta1.IPAddressPool{ObjectMeta: om("zoned"), Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"fd00:5::5%eth0/128"}}}); err != nil {
		t.Fatal(err)
	}
	reload()
	got = drain()
	if len(got) != 1 || !strings.HasPrefix(got[0], corev1.EventTypeWarning+" ConfigurationInvalid spec.addresses[0]") {
		t.Errorf("events = %q, want one ConfigurationInvalid naming spec.addresses[0]", got)
	}
	if ctl.cfg == nil || ctl.cfg.Pools["default"] == nil || ctl.cfgErr == nil {
		t.Errorf("the last valid configuration must stay in force, with the error kept: %v", ctl.cfgErr)
	}
	reload()
	if got := drain(); len(got) != 0 {
		t.Errorf("an unchanged error was posted again: %q", got)
	}
}
