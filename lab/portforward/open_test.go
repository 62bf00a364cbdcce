package portforward

import (
	"errors"
	"net"
	"slices"
	"testing"
)

func TestURL(t *testing.T) {
	lo := func(port int) net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port} }
	for _, tc := range []struct {
		local  net.Addr
		remote int
		path   string
		want   string
	}{
		{lo(8080), 80, "", "http://127.0.0.1:8080/"},
		{lo(8443), 443, "/dashboard/", "https://127.0.0.1:8443/dashboard/"},
		{lo(9000), 8443, "x", "https://127.0.0.1:9000/x"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, 80, "", "http://127.0.0.1:8080/"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, 80, "", "http://[::1]:8080/"},
	} {
		if got := URL(tc.local, tc.remote, tc.path); got != tc.want {
			t.Errorf("URL(%v, %d, %q) = %q, want %q", tc.local, tc.remote, tc.path, got, tc.want)
		}
	}
}

func TestBrowser(t *testing.T) {
	const url = "http://127.0.0.1:8080/"
	installed := func(names ...string) func(string) (string, error) {
		return func(n string) (string, error) {
			if slices.Contains(names, n) {
				return "/usr/bin/" + n, nil
			}
			return "", errors.New("not found")
		}
	}
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		name    string
		env     func(string) string
		look    func(string) (string, error)
		euid    int
		want    []string
		wantErr bool
	}{
		{"xdg-open", env("DISPLAY", ":0"), installed("xdg-open", "x-www-browser"), 1000, []string{"xdg-open", url}, false},
		{"debian alternatives", env("WAYLAND_DISPLAY", "wayland-0"), installed("x-www-browser"), 1000, []string{"x-www-browser", url}, false},
		{"$BROWSER first installed", env("DISPLAY", ":0", "BROWSER", "nothere:firefox --new-tab"), installed("firefox", "xdg-open"), 1000, []string{"firefox", "--new-tab", url}, false},
		{"$BROWSER with %s", env("DISPLAY", ":0", "BROWSER", "chromium --app=%s"), installed("chromium"), 1000, []string{"chromium", "--app=" + url}, false},
		{"under sudo as the user", env("DISPLAY", ":0", "SUDO_USER", "ada"), installed("xdg-open", "runuser"), 0, []string{"runuser", "-u", "ada", "--", "xdg-open", url}, false},
		{"root without sudo", env("DISPLAY", ":0"), installed("xdg-open", "runuser"), 0, []string{"xdg-open", url}, false},
		{"no display", env(), installed("xdg-open"), 1000, nil, true},
		{"nothing installed", env("DISPLAY", ":0", "BROWSER", "nothere"), installed(), 1000, nil, true},
		{"sudo without runuser", env("DISPLAY", ":0", "SUDO_USER", "ada"), installed("xdg-open"), 0, nil, true},
	} {
		got, err := Browser(tc.env, tc.look, tc.euid, url)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("%s: Browser = %q, %v; want %q (error %v)", tc.name, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrNoBrowser) {
			t.Errorf("%s: error %v is not ErrNoBrowser", tc.name, err)
		}
	}
}
