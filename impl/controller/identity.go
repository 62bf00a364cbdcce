package controller

import (
	"os"

	"k8s.io/apimachinery/pkg/util/uuid"
)

// LeaderIdentity is who holds the leader Lease. In a pod it is the pod's name and UID: a
// controller whose container restarts in place (a crash, an OOM kill, its node rebooted) is the
// same pod, finds the Lease held by itself and leads again at once instead of waiting out the
// Lease its dead predecessor left (15 s). Two processes never share it: the kubelet runs one
// container of a pod at a time, and a pod made again (a Deployment's new replica, or one of the
// same name) has another UID. Without them (out of a cluster, tests) it is client-go's usual
// hostname_random.
func LeaderIdentity(podName, podUID string) string {
	if podName != "" && podUID != "" {
		return podName + "_" + podUID
	}
	host, _ := os.Hostname()
	return host + "_" + string(uuid.NewUUID())
}
