//go:build linux

package speaker

import (
	"net/netip"
	"time"

	"github.com/ironlb/ironlb/impl/bfd"
	"github.com/ironlb/ironlb/impl/config"
)

// bfdSessions adapts impl/bfd to what impl/bgp asks of BFD: a BFDProfile per peer.
type bfdSessions struct{ srv *bfd.Server }

func (b bfdSessions) Add(local, peer netip.Addr, p *config.BFDProfile) error {
	ms := func(v uint32, def uint32) time.Duration {
		if v == 0 {
			v = def
		}
		return time.Duration(v) * time.Millisecond
	}
	mult := p.DetectMultiplier
	if mult == 0 {
		mult = config.DefaultBFDMultiplier
	}
	return b.srv.Add(local, peer, bfd.Config{
		DesiredMinTx: ms(p.TransmitInterval, config.DefaultBFDInterval), RequiredMinRx: ms(p.ReceiveInterval, config.DefaultBFDInterval),
		DetectMult: uint8(min(mult, 255)), Passive: p.PassiveMode,
	})
}

func (b bfdSessions) Remove(peer netip.Addr) { b.srv.Remove(peer) }
