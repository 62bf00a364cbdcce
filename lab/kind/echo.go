package kind

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/ironlb/ironlb/lab/traffic"
)

// EchoPort is where the echo server listens, TCP (HTTP) and UDP, as the node agent's does.
const EchoPort = 8080

// Echo is the lab's echo server in a Kind cluster's pods (`ironlab __echo`, the image the lab's
// Deployments name): every HTTP request and UDP datagram is answered with the pod, node and
// addresses from the downward API (POD_NAMESPACE, POD_NAME, NODE_NAME, POD_IPS), as the node
// agent answers in a netns lab. The node is Kind's name for it (l2-worker); the lab maps it to
// the topology's host (cluster.Lab.HostOf).
func Echo(ctx context.Context) error {
	pod := os.Getenv("POD_NAMESPACE") + "/" + os.Getenv("POD_NAME")
	if os.Getenv("POD_NAME") == "" {
		h, _ := os.Hostname()
		pod = "?/" + h
	}
	ip, ip6 := "", ""
	for _, a := range splitComma(os.Getenv("POD_IPS")) {
		if p := net.ParseIP(a); p != nil && p.To4() != nil && ip == "" {
			ip = a
		} else if p != nil && p.To4() == nil && ip6 == "" {
			ip6 = a
		}
	}
	reply := traffic.Reply(pod, os.Getenv("NODE_NAME"), ip, ip6)
	addr := ":" + strconv.Itoa(EchoPort)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	go traffic.EchoUDP(pc, reply)
	srv := &http.Server{Handler: traffic.EchoHTTP(reply)}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		_ = pc.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
