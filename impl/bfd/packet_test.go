package bfd

import (
	"errors"
	"testing"
	"time"
)

func TestPacketRoundTrip(t *testing.T) {
	p := Packet{Version: 1, Diag: DiagTimeExpired, State: Up, Poll: true, DetectMult: 3, MyDisc: 0xdeadbeef, YourDisc: 7,
		DesiredMinTx: 100 * time.Millisecond, RequiredMinRx: 300 * time.Millisecond, RequiredMinEchoRx: 0}
	b := p.Marshal()
	if len(b) != HeaderLen {
		t.Fatalf("length %d", len(b))
	}
	// Byte layout from RFC 5880 section 4.1: version 1 and diag 1, state Up (3) with P.
	if b[0] != 0x21 || b[1] != 0xe0 || b[2] != 3 || b[3] != 24 {
		t.Errorf("header bytes % x", b[:4])
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Errorf("round trip: %+v, want %+v", got, p)
	}
}

func TestParseRejects(t *testing.T) {
	good := Packet{Version: 1, State: Down, DetectMult: 3, MyDisc: 1, DesiredMinTx: time.Second, RequiredMinRx: time.Second}
	for _, tc := range []struct {
		name string
		edit func(b []byte) []byte
		want error
	}{
		{"short", func(b []byte) []byte { return b[:23] }, ErrShort},
		{"version 0", func(b []byte) []byte { b[0] &= 0x1f; return b }, ErrVersion},
		{"version 2", func(b []byte) []byte { b[0] = b[0]&0x1f | 2<<5; return b }, ErrVersion},
		{"length below 24", func(b []byte) []byte { b[3] = 20; return b }, ErrLength},
		{"length beyond the datagram", func(b []byte) []byte { b[3] = 26; return b }, ErrLength},
		{"authentication", func(b []byte) []byte { b[1] |= 0x04; return b }, ErrAuth},
		{"detect mult 0", func(b []byte) []byte { b[2] = 0; return b }, ErrDetectMult},
		{"multipoint", func(b []byte) []byte { b[1] |= 0x01; return b }, ErrMultipoint},
		{"my discriminator 0", func(b []byte) []byte { b[4], b[5], b[6], b[7] = 0, 0, 0, 0; return b }, ErrMyDisc},
		{"your discriminator 0 in Up", func(b []byte) []byte { b[1] = b[1]&0x3f | byte(Up)<<6; return b }, ErrYourDisc},
		{"poll and final", func(b []byte) []byte { b[1] |= 0x30; return b }, ErrPollAndFinal},
	} {
		_, err := Parse(tc.edit(good.Marshal()))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Parse error %v, want %v", tc.name, err, tc.want)
		}
	}
	// Longer datagrams (padding) are fine when the length field says 24.
	if _, err := Parse(append(good.Marshal(), 0, 0, 0)); err != nil {
		t.Errorf("trailing bytes: %v", err)
	}
}

// FuzzParse: whatever a hostile peer sends, Parse returns without panicking, and what it accepts
// encodes back to the same first 24 bytes (but for the length field and ignored bits).
func FuzzParse(f *testing.F) {
	f.Add(Packet{Version: 1, State: Down, DetectMult: 3, MyDisc: 1, DesiredMinTx: time.Second}.Marshal())
	f.Add(Packet{Version: 1, State: Up, Final: true, DetectMult: 3, MyDisc: 9, YourDisc: 4, RequiredMinRx: 300 * time.Millisecond}.Marshal())
	f.Add([]byte{})
	// Hostile seeds: each breaks one reception rule, or sits on its edge.
	f.Add(Packet{Version: 1, State: AdminDown, DetectMult: 3, MyDisc: 1}.Marshal())
	f.Add(Packet{Version: 1, State: Up, DetectMult: 3, MyDisc: 1}.Marshal())                            // your discriminator 0 in Up
	f.Add(Packet{Version: 1, State: Down, DetectMult: 3, MyDisc: 1, AuthPresent: true}.Marshal())       // authentication
	f.Add(Packet{Version: 1, State: Down, DetectMult: 3, MyDisc: 1, Multipoint: true}.Marshal())        // multipoint
	f.Add(Packet{Version: 1, State: Down, DetectMult: 3, MyDisc: 1, Poll: true, Final: true}.Marshal()) // poll and final
	f.Add(Packet{Version: 1, State: Down, MyDisc: 1}.Marshal())                                         // detect mult 0
	f.Add([]byte{0x20, 0x40, 3, 255, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})       // length beyond the datagram
	f.Add([]byte{0x20, 0x44, 3, 26, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2})  // simple password auth header
	f.Add([]byte{0xe0, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		again, err := Parse(p.Marshal())
		if err != nil {
			t.Fatalf("re-encoded packet does not parse: %v", err)
		}
		if again != p {
			t.Fatalf("round trip changed the packet: %+v vs %+v", again, p)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	buf := Packet{Version: 1, State: Up, DetectMult: 3, MyDisc: 9, YourDisc: 4, DesiredMinTx: 100 * time.Millisecond,
		RequiredMinRx: 100 * time.Millisecond}.Marshal()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(buf); err != nil {
			b.Fatal(err)
		}
	}
}
