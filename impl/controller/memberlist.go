package controller

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// MemberlistSecretName is the Secret holding the speakers' gossip key (key MemberlistSecretKey);
// the speaker DaemonSet mounts it.
const (
	MemberlistSecretName = "ironlb-memberlist"
	MemberlistSecretKey  = "secretkey"
)

// EnsureMemberlistSecret creates the speakers' shared gossip key once, at random, as MetalLB's
// controller does; an existing Secret (made by the user, or by another replica) is kept.
func EnsureMemberlistSecret(ctx context.Context, c client.Client, ns string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: MemberlistSecretName},
		Data: map[string][]byte{MemberlistSecretKey: []byte(base64.StdEncoding.EncodeToString(key))}}
	if err := c.Create(ctx, sec); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("speakers' membership key (Secret %s/%s): %w", ns, MemberlistSecretName, err)
	}
	return nil
}
