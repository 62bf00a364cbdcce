// Package configstate writes a component's ConfigurationState: whether the configuration it last
// loaded was accepted, and if not, every problem; and, for an accepted one, its warnings (the
// objects it skips, such as a BGPPeer whose BFDProfile does not exist). The controller and each
// speaker report one.
package configstate

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
)

// Condition types of a ConfigurationState.
const (
	// ConditionValid is True when the last configuration was accepted and is in use.
	ConditionValid = "Valid"
	// ConditionDegraded is True when the configuration in use skips something (Config.Warnings):
	// the result stays Valid, the message lists every warning with its object and field.
	ConditionDegraded = "Degraded"
)

// maxMessage keeps a condition message under the API's limit (32768).
const maxMessage = 32000

// Report creates the object key (with labels) when missing and sets its result, last error and
// Valid condition and, when result is Valid, its Degraded condition from warnings (each one
// message, as config.FieldError prints); it writes nothing when the status already says so. An
// Invalid result leaves Degraded as it was: the last valid configuration, and its warnings, stay
// in use.
func Report(ctx context.Context, c client.Client, key types.NamespacedName, labels map[string]string,
	result v1beta1.ConfigurationResult, lastError string, warnings ...string) error {
	st := &v1beta1.ConfigurationState{}
	err := c.Get(ctx, key, st)
	if apierrors.IsNotFound(err) {
		st = &v1beta1.ConfigurationState{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: labels}}
		err = c.Create(ctx, st)
	}
	if err != nil {
		return fmt.Errorf("write ConfigurationState %s: %w", key, err)
	}
	degraded := degradedCondition(warnings)
	if st.Status.Result == result && st.Status.LastError == lastError &&
		(result != v1beta1.ConfigurationValid || sameCondition(meta.FindStatusCondition(st.Status.Conditions, ConditionDegraded), degraded)) {
		return nil
	}
	patch := client.MergeFrom(st.DeepCopy())
	st.Status.Result, st.Status.LastError = result, lastError
	cond := metav1.Condition{Type: ConditionValid, Status: metav1.ConditionTrue, Reason: "ConfigurationLoaded", Message: "configuration is in use"}
	if result != v1beta1.ConfigurationValid {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "ConfigurationRejected", "the last valid configuration stays in use"
	}
	meta.SetStatusCondition(&st.Status.Conditions, cond)
	if result == v1beta1.ConfigurationValid {
		meta.SetStatusCondition(&st.Status.Conditions, degraded)
	}
	if err := c.Status().Patch(ctx, st, patch); err != nil {
		return fmt.Errorf("write ConfigurationState %s status: %w", key, err)
	}
	return nil
}

// degradedCondition is the Degraded condition for a valid configuration with these warnings.
func degradedCondition(warnings []string) metav1.Condition {
	if len(warnings) == 0 {
		return metav1.Condition{Type: ConditionDegraded, Status: metav1.ConditionFalse, Reason: "NothingSkipped",
			Message: "every object of the configuration is in use"}
	}
	msg := fmt.Sprintf("%d warning(s), the rest of the configuration is in use: %s", len(warnings), strings.Join(warnings, "; "))
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "..."
	}
	return metav1.Condition{Type: ConditionDegraded, Status: metav1.ConditionTrue, Reason: "ObjectsSkipped", Message: msg}
}

func sameCondition(have *metav1.Condition, want metav1.Condition) bool {
	return have != nil && have.Status == want.Status && have.Reason == want.Reason && have.Message == want.Message
}
