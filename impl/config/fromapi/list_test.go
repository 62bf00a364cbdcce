package fromapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/config/fromapi"
)

// TestListReadsOnlyNamedSecrets: List gets the Secrets BGPPeers name, one by one, and neither lists
// Secrets nor reads any other (the speaker's Role allows only get).
func TestListReadsOnlyNamedSecrets(t *testing.T) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1beta1.AddToScheme, v1beta2.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	const ns = "metallb-system"
	secret := func(name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeBasicAuth,
			Data: map[string][]byte{"password": []byte(name)}}
	}
	peer := func(name, secret string) *v1beta2.BGPPeer {
		p := &v1beta2.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1beta2.BGPPeerSpec{MyASN: 64500, ASN: 64501, Address: fmt.Sprintf("172.18.0.%d", 5+int(name[0]-'a'))}}
		p.Spec.PasswordSecret.Name = secret
		return p
	}
	var got []string
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithObjects(secret("used"), secret("memberlist"), secret("webhook-server-cert"),
			peer("a", "used"), peer("b", "used"), peer("c", "missing"), peer("d", ""), peer("e", "hidden")).
		WithInterceptorFuncs(interceptor.Funcs{
			List: func(ctx context.Context, c client.WithWatch, l client.ObjectList, opts ...client.ListOption) error {
				if _, ok := l.(*corev1.SecretList); ok {
					return errors.New("forbidden: list secrets")
				}
				return c.List(ctx, l, opts...)
			},
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if _, ok := obj.(*corev1.Secret); ok {
					got = append(got, key.Name)
					if key.Name == "hidden" { // a Role narrowed with resourceNames
						return apierrors.NewForbidden(corev1.Resource("secrets"), key.Name, errors.New("not in resourceNames"))
					}
				}
				return c.Get(ctx, key, obj, opts...)
			},
		}).Build()
	in, err := fromapi.List(context.Background(), c, ns)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != 3 || got[0] != "used" || got[1] != "missing" || got[2] != "hidden" {
		t.Errorf("Secrets read: %v, want [used missing] (each named one once, nothing else)", got)
	}
	if len(in.Secrets) != 2 || string(in.Secrets["used"].Data["password"]) != "used" || in.Secrets["hidden"].Unreadable == "" {
		t.Errorf("Input.Secrets = %v, want used, and hidden as unreadable", in.Secrets)
	}
	// The forbidden Secret costs its peer only: the configuration is valid and skips peer e.
	cfg, err := config.Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	var skipped []string
	for _, p := range cfg.SkippedPeers {
		skipped = append(skipped, p.Name+": "+p.Reason)
	}
	if len(skipped) != 2 || !strings.HasPrefix(skipped[0], "c: ") || !strings.Contains(skipped[1], "e: spec.passwordSecret.name: Secret \"hidden\" cannot be read (Forbidden)") {
		t.Errorf("skipped peers = %q, want c (missing) and e (cannot be read)", skipped)
	}
}
