package configstate

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
)

// Warnings of a valid configuration show in ConfigurationState as a Degraded condition while the
// result stays Valid (issue #13 item 3); an unchanged report writes nothing.
func TestReportShowsWarnings(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1beta1.ConfigurationState{}).Build()
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "metallb-system", Name: "controller"}
	get := func() *v1beta1.ConfigurationState {
		t.Helper()
		st := &v1beta1.ConfigurationState{}
		if err := c.Get(ctx, key, st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	warn := `BGPPeer "router": spec.bfdProfile: BFDProfile "slow" does not exist (or is invalid): the peer is not run until it does`
	steps := []struct {
		name         string
		result       v1beta1.ConfigurationResult
		lastError    string
		warnings     []string
		wantDegraded metav1.ConditionStatus
		wantMessage  string
	}{
		{name: "valid with a warning", result: v1beta1.ConfigurationValid, warnings: []string{warn},
			wantDegraded: metav1.ConditionTrue, wantMessage: warn},
		{name: "invalid keeps the warnings of the configuration in use", result: v1beta1.ConfigurationInvalid, lastError: "bad",
			wantDegraded: metav1.ConditionTrue, wantMessage: warn},
		{name: "valid without warnings", result: v1beta1.ConfigurationValid, wantDegraded: metav1.ConditionFalse},
	}
	for _, s := range steps {
		if err := Report(ctx, c, key, nil, s.result, s.lastError, s.warnings...); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		st := get()
		if st.Status.Result != s.result || st.Status.LastError != s.lastError {
			t.Errorf("%s: status = %+v", s.name, st.Status)
		}
		d := meta.FindStatusCondition(st.Status.Conditions, ConditionDegraded)
		if d == nil || d.Status != s.wantDegraded || !strings.Contains(d.Message, s.wantMessage) {
			t.Errorf("%s: Degraded = %+v, want %s with %q", s.name, d, s.wantDegraded, s.wantMessage)
		}
		rv := st.ResourceVersion
		if err := Report(ctx, c, key, nil, s.result, s.lastError, s.warnings...); err != nil {
			t.Fatal(err)
		}
		if get().ResourceVersion != rv {
			t.Errorf("%s: the same report wrote the object again", s.name)
		}
	}
}
