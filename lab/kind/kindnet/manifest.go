package kindnet

import (
	"fmt"

	"github.com/ironlb/ironlb/impl/images"
)

// Manifest is the pod network's objects: a ServiceAccount that may read Nodes, and the
// DaemonSet that runs `ironlab __kindnet` from image on every node (the node's network,
// NET_ADMIN, its /etc/cni/net.d), tolerating every taint as a CNI must.
func Manifest(image, command string) []byte {
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: ironlab-kindnet, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ironlab-kindnet}
rules:
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ironlab-kindnet}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ironlab-kindnet}
subjects:
- {kind: ServiceAccount, name: ironlab-kindnet, namespace: kube-system}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ironlab-kindnet
  namespace: kube-system
  labels: {app: ironlab-kindnet}
spec:
  selector:
    matchLabels: {app: ironlab-kindnet}
  template:
    metadata:
      labels: {app: ironlab-kindnet}
    spec:
      serviceAccountName: ironlab-kindnet
      hostNetwork: true
      priorityClassName: system-node-critical
      tolerations:
      - operator: Exists
      containers:
      - name: kindnet
        image: %s
        imagePullPolicy: IfNotPresent
        command: [%q, %q]
        env:
        - name: NODE_NAME
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        securityContext:
          capabilities: {add: [NET_ADMIN], drop: [ALL]}
        volumeMounts:
        - {name: cni, mountPath: /etc/cni/net.d}
        resources:
          requests: {cpu: 10m, memory: 20Mi}
      volumes:
      - name: cni
        hostPath: {path: /etc/cni/net.d, type: DirectoryOrCreate}
`, image, images.BinaryPath("ironlab"), command))
}
