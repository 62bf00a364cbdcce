package pki

import (
	"crypto/x509"
	"testing"
	"time"
)

func verifies(t *testing.T, certPEM, bundle []byte, now time.Time) error {
	t.Helper()
	pool := x509.NewCertPool()
	for _, c := range parseCerts(bundle) {
		pool.AddCert(c)
	}
	certs := parseCerts(certPEM)
	if len(certs) == 0 {
		return errNoCert
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: "hook.ns.svc", CurrentTime: now})
	return err
}

type errString string

func (e errString) Error() string { return string(e) }

const errNoCert = errString("no certificate")

// Three lifetimes on an explicit clock: the CA and the serving certificate are renewed at two
// thirds of their validity; at every step, a client holding the bundle from before or after the
// step verifies the certificate served before or after it (so the switch can happen in any order
// at the API server and the webhook), and the old CA leaves the bundle only once it expired.
func TestRotationScheduleKeepsTrust(t *testing.T) {
	const life = 30 * 24 * time.Hour
	r := Rotation{Name: "ca", Lifetime: life, Request: Request{CommonName: "hook", DNSNames: []string{"hook.ns.svc"}, Server: true}}
	if r.Settle() != time.Minute {
		t.Fatalf("settle %s", r.Settle())
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var s Set
	steps := map[Step][]time.Time{}
	for now := start; now.Before(start.Add(3 * life)); now = now.Add(10 * time.Minute) {
		for range 5 {
			next, step, wake, err := r.Next(s, now)
			if err != nil {
				t.Fatal(err)
			}
			if step == StepNone {
				if !wake.After(now) {
					t.Fatalf("%s: nothing to do, but call again at %s", now, wake)
				}
				break
			}
			steps[step] = append(steps[step], now)
			if len(s.Cert) > 0 { // not the first issue
				for _, pair := range [][2][]byte{{s.Cert, next.Bundle}, {next.Cert, s.Bundle}, {next.Cert, next.Bundle}} {
					if err := verifies(t, pair[0], pair[1], now); err != nil {
						t.Fatalf("%s, step %q: a client would fail: %v", now.Sub(start), step, err)
					}
				}
			}
			s = next
		}
		if err := verifies(t, s.Cert, s.Bundle, now); err != nil {
			t.Fatalf("%s: %v", now.Sub(start), err)
		}
	}
	// Validity is lifetime + lifetime/10 (at most an hour) before: renewal 2/3 into it.
	renew := (life+time.Hour)*2/3 - time.Hour
	for _, tc := range []struct {
		step Step
		want []time.Duration
	}{
		{StepNewCA, []time.Duration{0, renew, 2 * renew, 3 * renew, 4 * renew}},
		{StepNewServing, []time.Duration{0, renew + time.Minute, 2*renew + 2*time.Minute, 3*renew + 3*time.Minute, 4*renew + 4*time.Minute}},
	} {
		got := steps[tc.step]
		if len(got) != len(tc.want) {
			t.Errorf("%s at %v, want %d times", tc.step, got, len(tc.want))
			continue
		}
		for i, g := range got {
			if d := g.Sub(start) - tc.want[i]; d < 0 || d >= 10*time.Minute+time.Minute {
				t.Errorf("%s #%d at %s, want %s (+ clock step)", tc.step, i, g.Sub(start), tc.want[i])
			}
		}
	}
	if len(steps[StepPrune]) < 3 {
		t.Errorf("expired CAs pruned %d times", len(steps[StepPrune]))
	}
	if n := len(parseCerts(s.Bundle)); n > 2 {
		t.Errorf("bundle of %d CAs", n)
	}
}

// Single moments of the schedule.
func TestRotationNext(t *testing.T) {
	const life = 9 * time.Hour // valid from 54 min before it is made, for 9h54m
	r := Rotation{Name: "ca", Lifetime: life, Request: Request{CommonName: "hook", DNSNames: []string{"hook.ns.svc"}, Server: true}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fresh, _, _, _ := r.Next(Set{}, t0)
	fresh, _, _, _ = r.Next(fresh, t0)
	renewAt := t0.Add(-life / 10).Add((life + life/10) * 2 / 3)
	rotated, _, _, _ := r.Next(fresh, renewAt)
	for _, tc := range []struct {
		name string
		set  Set
		at   time.Time
		want Step
	}{
		{"nothing yet", Set{}, t0, StepNewCA},
		{"a CA, no serving certificate", Set{Bundle: fresh.Bundle, CACert: fresh.CACert, CAKey: fresh.CAKey}, t0, StepNewServing},
		{"fresh", fresh, t0.Add(time.Hour), StepNone},
		{"just before renewal", fresh, renewAt.Add(-time.Second), StepNone},
		{"at renewal: a new CA first", fresh, renewAt, StepNewCA},
		{"the new CA settling", rotated, renewAt.Add(r.Settle() - time.Second), StepNone},
		{"the new CA settled", rotated, renewAt.Add(r.Settle()), StepNewServing},
		{"expired serving certificate: at once", Set{Bundle: rotated.Bundle, CACert: rotated.CACert, CAKey: rotated.CAKey,
			Cert: fresh.Cert, Key: fresh.Key}, t0.Add(life + time.Second), StepNewServing},
		{"signing CA missing from the bundle", Set{Bundle: fresh.Bundle, CACert: rotated.CACert, CAKey: rotated.CAKey, Cert: fresh.Cert, Key: fresh.Key}, renewAt, StepNewCA},
		{"garbage CA", Set{Bundle: []byte("x"), CACert: []byte("x"), CAKey: []byte("y")}, t0, StepNewCA},
	} {
		_, got, _, err := r.Next(tc.set, tc.at)
		if err != nil || got != tc.want {
			t.Errorf("%s: step %q (err %v), want %q", tc.name, got, err, tc.want)
		}
	}
}
