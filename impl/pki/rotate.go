package pki

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// Set is a serving certificate, the CA that signs it and the CAs its clients trust, as kept
// (PEM) in the webhook's Secret.
type Set struct {
	Bundle        []byte // every CA clients are to trust: the signing CA and older ones not yet expired
	CACert, CAKey []byte // the signing CA (the newest)
	Cert, Key     []byte // the serving certificate
}

// Step is what Rotation.Next changed.
type Step string

// Steps of a rotation.
const (
	StepNone       Step = ""
	StepNewCA      Step = "new CA"                  // a new signing CA, added to the bundle
	StepNewServing Step = "new serving certificate" // a serving certificate from the signing CA
	StepPrune      Step = "expired CA removed from the bundle"
)

// Rotation renews a Set: each CA and serving certificate is renewed at two thirds of its
// validity. A new CA first joins the bundle beside the old one; the serving certificate is signed
// by it only once the bundle has had Settle to reach the clients, so that whatever a client holds
// (the bundle before or after) verifies whatever the server serves (the certificate before or
// after). The old CA leaves the bundle when it expires.
type Rotation struct {
	Name     string        // the CA's common name
	Request  Request       // what the serving certificate is for
	Lifetime time.Duration // of CAs and serving certificates; 0 is DefaultLifetime
}

// Settle is how long a new CA is in the published bundle before it signs the serving
// certificate: a tenth of the lifetime, at most a minute.
func (r Rotation) Settle() time.Duration { return min(r.lifetime()/10, time.Minute) }

func (r Rotation) lifetime() time.Duration {
	if r.Lifetime <= 0 {
		return DefaultLifetime
	}
	return r.Lifetime
}

// RenewAt is when a certificate is due for renewal: two thirds into its validity.
func RenewAt(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

// Next makes at most one step of the rotation at now and returns the set after it, the step, and
// when to call again. The caller publishes each step (the Secret, then the bundle to the API
// server) before it calls again: a step never depends on a later one to be safe.
func (r Rotation) Next(s Set, now time.Time) (Set, Step, time.Time, error) {
	bundle := parseCerts(s.Bundle)
	ca, caErr := ParseCA(s.CACert, s.CAKey)
	if caErr != nil || !now.Before(RenewAt(ca.Cert)) {
		nca, err := NewCAAt(r.Name, now, r.lifetime())
		if err != nil {
			return s, StepNone, now, err
		}
		out := s
		out.CACert, out.CAKey, out.Bundle = nca.PEM, mustKeyPEM(nca), encodeCerts(append([]*x509.Certificate{nca.Cert}, live(bundle, now)...))
		return out, StepNewCA, now, nil
	}
	if !contains(bundle, ca.Cert) { // a Secret edited by hand: the signer must be trusted first
		out := s
		out.Bundle = encodeCerts(append([]*x509.Certificate{ca.Cert}, live(bundle, now)...))
		return out, StepNewCA, now, nil
	}
	serving := parseCerts(s.Cert)
	settled := madeAt(ca.Cert).Add(r.Settle())
	renewServing := len(serving) == 0 || !now.Before(serving[0].NotAfter) || !now.Before(RenewAt(serving[0])) ||
		serving[0].CheckSignatureFrom(ca.Cert) != nil
	if renewServing {
		// A serving certificate still valid but from an older CA waits until the new one settled.
		valid := len(serving) > 0 && now.Before(serving[0].NotAfter)
		if valid && serving[0].CheckSignatureFrom(ca.Cert) != nil && now.Before(settled) {
			return s, StepNone, settled, nil
		}
		kp, err := ca.IssueAt(r.Request, now, r.lifetime())
		if err != nil {
			return s, StepNone, now, err
		}
		out := s
		out.Cert, out.Key = kp.CertPEM, kp.KeyPEM
		return out, StepNewServing, now, nil
	}
	if kept := live(bundle, now); len(kept) != len(bundle) {
		out := s
		out.Bundle = encodeCerts(kept)
		return out, StepPrune, now, nil
	}
	next := RenewAt(ca.Cert)
	for _, t := range []time.Time{RenewAt(serving[0])} {
		if t.Before(next) {
			next = t
		}
	}
	for _, c := range bundle {
		if c.NotAfter.Before(next) {
			next = c.NotAfter
		}
	}
	return s, StepNone, next, nil
}

// madeAt is when a certificate of validity made it: its NotBefore is a tenth of its lifetime
// (at most an hour) earlier.
func madeAt(c *x509.Certificate) time.Time {
	span := c.NotAfter.Sub(c.NotBefore) // lifetime + min(lifetime/10, 1h)
	return c.NotBefore.Add(min(span/11, time.Hour))
}

// live returns the certificates not expired at now.
func live(cs []*x509.Certificate, now time.Time) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range cs {
		if now.Before(c.NotAfter) {
			out = append(out, c)
		}
	}
	return out
}

func contains(cs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range cs {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// parseCerts reads the certificates of a PEM bundle, skipping what does not parse.
func parseCerts(b []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return out
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil && block.Type == "CERTIFICATE" {
			out = append(out, c)
		}
	}
}

func encodeCerts(cs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range cs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func mustKeyPEM(ca *CA) []byte {
	b, err := ca.KeyPEM()
	if err != nil { // NewCAAt makes ECDSA keys
		panic(fmt.Sprintf("pki: %v", err))
	}
	return b
}
