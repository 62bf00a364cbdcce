// Package configstate writes a component's ConfigurationState: whether the configuration it last
// loaded was accepted, and if not, every problem. The controller and each speaker report one.
package configstate

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
)

// Report creates the object key (with labels) when missing and sets its result, last error and
// Valid condition; it writes nothing when the status already says so.
func Report(ctx context.Context, c client.Client, key types.NamespacedName, labels map[string]string,
	result v1beta1.ConfigurationResult, lastError string) error {
	st := &v1beta1.ConfigurationState{}
	err := c.Get(ctx, key, st)
	if apierrors.IsNotFound(err) {
		st = &v1beta1.ConfigurationState{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: labels}}
		err = c.Create(ctx, st)
	}
	if err != nil {
		return fmt.Errorf("write ConfigurationState %s: %w", key, err)
	}
	if st.Status.Result == result && st.Status.LastError == lastError {
		return nil
	}
	patch := client.MergeFrom(st.DeepCopy())
	st.Status.Result, st.Status.LastError = result, lastError
	cond := metav1.Condition{Type: "Valid", Status: metav1.ConditionTrue, Reason: "ConfigurationLoaded", Message: "configuration is in use"}
	if result != v1beta1.ConfigurationValid {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "ConfigurationRejected", "the last valid configuration stays in use"
	}
	meta.SetStatusCondition(&st.Status.Conditions, cond)
	if err := c.Status().Patch(ctx, st, patch); err != nil {
		return fmt.Errorf("write ConfigurationState %s status: %w", key, err)
	}
	return nil
}
