// Command probe reports what a container sees of itself, one key=value per line: the image mode
// test of lab/container runs it inside an image.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(l, ":")
		switch k {
		case "Uid", "Gid", "Groups", "CapEff", "CapBnd", "CapPrm", "NoNewPrivs":
			fmt.Printf("%s=%s\n", k, strings.Join(strings.Fields(v), " "))
		}
	}
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	fmt.Printf("hostname=%s\ncwd=%s\nargs=%s\n", host, wd, strings.Join(os.Args[1:], " "))
	for _, p := range []string{"/written", "/tmp/written", "/data/written"} {
		err := os.WriteFile(p, []byte("x"), 0o644)
		fmt.Printf("write %s=%v\n", p, err == nil)
	}
	for _, p := range []string{"/bin/sh", "/dev/null", "/proc/self/exe", "/sys/class/net/lo", "/etc/secret/key", "/var/secret-again/key"} {
		_, err := os.Stat(p)
		fmt.Printf("exists %s=%v\n", p, err == nil)
	}
}
