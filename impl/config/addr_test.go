package config

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in      string
		want    netip.Addr
		wantErr error
	}{
		{in: "192.0.2.1", want: netip.MustParseAddr("192.0.2.1")},
		{in: "2001:db8::1", want: netip.MustParseAddr("2001:db8::1")},
		{in: "fe80::1%eth0", wantErr: ErrAddrZone},
		{in: "2001:db8::1%1", wantErr: ErrAddrZone},
		{in: "::ffff:192.0.2.1", wantErr: ErrAddrMapped},
		{in: "::ffff:c000:201", wantErr: ErrAddrMapped},
		{in: "::ffff:192.0.2.1%eth0", wantErr: ErrAddrZone},
		{in: "", wantErr: ErrNotAddress},
		{in: " 192.0.2.1", wantErr: ErrNotAddress},
		{in: "192.0.2.0/24", wantErr: ErrNotAddress},
		{in: "example.com", wantErr: ErrNotAddress},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAddr(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseAddr(%q) = %v, %v; want error %v", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseAddr(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}
