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

// Flood is what an ARP flood measured.
type Flood struct {
	RTTs    []time.Duration // of each answered request (a reply matched to the oldest unanswered one)
	MACs    map[string]int  // replies per answering MAC address
	Sent    int
	Elapsed time.Duration // from the first request sent to the last
}

// Rate is the request rate the flood achieved (requests per second), measured, not the one asked
// for: a sleep of 0.2 ms takes longer on a busy machine.
func (f Flood) Rate() float64 {
	if f.Sent < 2 || f.Elapsed <= 0 {
		return 0
	}
	return float64(f.Sent-1) / f.Elapsed.Seconds()
}

// ARPFlood sends count ARP requests for ip, paced to one every interval (each request goes out at
// start + i*interval, at once when behind), from a lab host's interface, and measures the round
// trip of each answered one and the MAC addresses that answered: how fast the owner answers while
// it is flooded, at the rate Flood.Rate reports.
func ARPFlood(lab netns.Lab, from, iface string, ip netip.Addr, count int, interval time.Duration) (Flood, error) {
	f := Flood{MACs: map[string]int{}}
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
					f.RTTs = append(f.RTTs, now.Sub(pending[0]))
					pending = pending[1:]
				}
				f.MACs[p.SenderHardwareAddr.String()]++
				mu.Unlock()
			}
		}()
		start := time.Now()
		var last time.Time
		for i := range count {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			mu.Lock()
			last = time.Now()
			pending = append(pending, last)
			mu.Unlock()
			if err := c.Request(ip); err != nil {
				return fmt.Errorf("ARP request: %w", err)
			}
			f.Sent++
		}
		f.Elapsed = last.Sub(start)
		time.Sleep(200 * time.Millisecond)
		_ = c.SetReadDeadline(time.Now())
		<-done
		return nil
	})
	return f, err
}
