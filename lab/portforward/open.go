package portforward

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// URL is what a browser opens for a Service port forwarded to local: https for the usual TLS
// ports, http otherwise; path "" is "/".
func URL(local net.Addr, remotePort int, path string) string {
	scheme := "http"
	if remotePort == 443 || remotePort == 8443 {
		scheme = "https"
	}
	host := local.String()
	if ta, ok := local.(*net.TCPAddr); ok {
		ip := ta.IP.String()
		if ta.IP.IsUnspecified() {
			ip = "127.0.0.1" // listening everywhere: this machine's browser still uses loopback
		}
		host = net.JoinHostPort(ip, strconv.Itoa(ta.Port))
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return scheme + "://" + host + path
}

// ErrNoBrowser says why no browser can be started; the URL is still served.
var ErrNoBrowser = errors.New("no browser to start")

// Browser is the command that opens url for the person at the keyboard: the first command of
// $BROWSER (colon-separated, %s is the URL) or xdg-open, sensible-browser, x-www-browser,
// whichever is installed. Under sudo it runs as the user who ran sudo (browsers refuse to run as
// root), with runuser. getenv reads the environment, look finds a program (exec.LookPath).
func Browser(getenv func(string) string, look func(string) (string, error), euid int, url string) ([]string, error) {
	if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
		return nil, fmt.Errorf("%w: no graphical session (DISPLAY and WAYLAND_DISPLAY are unset)", ErrNoBrowser)
	}
	var cmd []string
	for _, b := range strings.Split(getenv("BROWSER"), ":") {
		f := strings.Fields(b)
		if len(f) == 0 {
			continue
		}
		if _, err := look(f[0]); err != nil {
			continue
		}
		withURL := false
		for i := range f {
			if strings.Contains(f[i], "%s") {
				f[i], withURL = strings.ReplaceAll(f[i], "%s", url), true
			}
		}
		if !withURL {
			f = append(f, url)
		}
		cmd = f
		break
	}
	if cmd == nil {
		for _, b := range []string{"xdg-open", "sensible-browser", "x-www-browser"} {
			if _, err := look(b); err == nil {
				cmd = []string{b, url}
				break
			}
		}
	}
	if cmd == nil {
		return nil, fmt.Errorf("%w: none of $BROWSER, xdg-open, sensible-browser, x-www-browser is installed (apt-get install xdg-utils)", ErrNoBrowser)
	}
	if user := getenv("SUDO_USER"); euid == 0 && user != "" && user != "root" {
		if _, err := look("runuser"); err != nil {
			return nil, fmt.Errorf("%w: running as root under sudo and no runuser to start it as %s", ErrNoBrowser, user)
		}
		cmd = append([]string{"runuser", "-u", user, "--"}, cmd...)
	}
	return cmd, nil
}
