//go:build linux

package traffic

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/arp"

	"github.com/ironlb/ironlb/lab/netns"
)

// ARPFlood sends count ARP requests for ip, one every interval, from a lab host's interface, and
// returns the round-trip time of each answered one (a reply is matched to the oldest request not
// yet answered) and the MAC addresses that answered. It measures how fast the owner answers
// while it is flooded.
func ARPFlood(lab netns.Lab, from, iface string, ip netip.Addr, count int, interval time.Duration) ([]time.Duration, map[string]int, error) {
	var rtts []time.Duration
	macs := map[string]int{}
	err := lab.Do(from, func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			return err
		}
		defer c.Close()
		var mu sync.Mutex
		var pending []time.Time
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				p, _, err := c.Read()
				if err != nil {
					return
				}
				if p.Operation != arp.OperationReply || p.SenderIP != ip {
					continue
				}
				now := time.Now()
				mu.Lock()
				if len(pending) > 0 {
					rtts = append(rtts, now.Sub(pending[0]))
					pending = pending[1:]
				}
				macs[p.SenderHardwareAddr.String()]++
				mu.Unlock()
			}
		}()
		for range count {
			mu.Lock()
			pending = append(pending, time.Now())
			mu.Unlock()
			if err := c.Request(ip); err != nil {
				return fmt.Errorf("ARP request: %w", err)
			}
			time.Sleep(interval)
		}
		time.Sleep(200 * time.Millisecond)
		_ = c.SetReadDeadline(time.Now())
		<-done
		return nil
	})
	return rtts, macs, err
}
