// Package fromapi maps the metallb.io API objects onto the plain config.Input that the pure config
// package validates. It is the only place that knows both shapes.
package fromapi

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/config"
)

// Objects is the configuration as listed from the API, in the IronLB namespace.
type Objects struct {
	Pools             []v1beta1.IPAddressPool
	L2Advertisements  []v1beta1.L2Advertisement
	BGPAdvertisements []v1beta1.BGPAdvertisement
	Peers             []v1beta2.BGPPeer
	BFDProfiles       []v1beta1.BFDProfile
	Communities       []v1beta1.Community
	// Secrets by name: type and data of those that passwordSecret refers to.
	Secrets map[string]config.Secret
}

// Input converts the objects. Objects being deleted (deletionTimestamp set) are left out, as they
// no longer take part in the configuration.
func Input(o Objects) config.Input {
	in := config.Input{Secrets: o.Secrets}
	for _, p := range o.Pools {
		if p.DeletionTimestamp != nil {
			continue
		}
		spec := config.PoolSpec{Name: p.Name, Addresses: p.Spec.Addresses, AutoAssign: p.Spec.AutoAssign,
			AvoidBuggyIPs: p.Spec.AvoidBuggyIPs, Labels: p.Labels}
		if a := p.Spec.AllocateTo; a != nil {
			spec.Allocation = &config.AllocationSpec{Priority: a.Priority, Namespaces: a.Namespaces,
				NamespaceSelectors: selectors(a.NamespaceSelectors), ServiceSelectors: selectors(a.ServiceSelectors)}
		}
		in.Pools = append(in.Pools, spec)
	}
	for _, a := range o.L2Advertisements {
		if a.DeletionTimestamp != nil {
			continue
		}
		in.L2Advertisements = append(in.L2Advertisements, config.L2AdvertisementSpec{Name: a.Name,
			Pools: a.Spec.IPAddressPools, PoolSelectors: selectors(a.Spec.IPAddressPoolSelectors),
			NodeSelectors: selectors(a.Spec.NodeSelectors), Interfaces: a.Spec.Interfaces})
	}
	for _, a := range o.BGPAdvertisements {
		if a.DeletionTimestamp != nil {
			continue
		}
		in.BGPAdvertisements = append(in.BGPAdvertisements, config.BGPAdvertisementSpec{Name: a.Name,
			AggregationLength: a.Spec.AggregationLength, AggregationLengthV6: a.Spec.AggregationLengthV6,
			LocalPref: a.Spec.LocalPref, Communities: a.Spec.Communities, Pools: a.Spec.IPAddressPools,
			PoolSelectors: selectors(a.Spec.IPAddressPoolSelectors), NodeSelectors: selectors(a.Spec.NodeSelectors),
			Peers: a.Spec.Peers})
	}
	for _, p := range o.Peers {
		if p.DeletionTimestamp != nil {
			continue
		}
		s := p.Spec
		in.Peers = append(in.Peers, config.PeerSpec{Name: p.Name, MyASN: s.MyASN, ASN: s.ASN,
			DynamicASN: string(s.DynamicASN), Address: s.Address, Interface: s.Interface, SourceAddress: s.SrcAddress,
			Port: s.Port, HoldTime: duration(s.HoldTime), KeepaliveTime: duration(s.KeepaliveTime),
			ConnectTime: duration(s.ConnectTime), RouterID: s.RouterID, NodeSelectors: selectors(s.NodeSelectors),
			Password: s.Password, PasswordSecret: s.PasswordSecret.Name, BFDProfile: s.BFDProfile,
			EnableGracefulRestart: s.EnableGracefulRestart, EBGPMultiHop: s.EBGPMultiHop, VRF: s.VRFName,
			DisableMP: s.DisableMP, DualStackAddressFamily: s.DualStackAddressFamily})
	}
	for _, b := range o.BFDProfiles {
		if b.DeletionTimestamp != nil {
			continue
		}
		s := b.Spec
		in.BFDProfiles = append(in.BFDProfiles, config.BFDProfileSpec{Name: b.Name, ReceiveInterval: s.ReceiveInterval,
			TransmitInterval: s.TransmitInterval, DetectMultiplier: s.DetectMultiplier, EchoInterval: s.EchoInterval,
			EchoMode: s.EchoMode, PassiveMode: s.PassiveMode, MinimumTTL: s.MinimumTTL})
	}
	for _, c := range o.Communities {
		if c.DeletionTimestamp != nil {
			continue
		}
		spec := config.CommunitySpec{Name: c.Name}
		for _, a := range c.Spec.Communities {
			spec.Aliases = append(spec.Aliases, config.CommunityAliasSpec{Name: a.Name, Value: a.Value})
		}
		in.Communities = append(in.Communities, spec)
	}
	return in
}

func duration(d *metav1.Duration) string {
	if d == nil {
		return ""
	}
	return d.Duration.String()
}

func selectors(in []metav1.LabelSelector) []config.Selector {
	if len(in) == 0 {
		return nil
	}
	out := make([]config.Selector, 0, len(in))
	for _, s := range in {
		sel := config.Selector{MatchLabels: s.MatchLabels}
		for _, r := range s.MatchExpressions {
			sel.MatchExpressions = append(sel.MatchExpressions, config.Requirement{Key: r.Key, Operator: string(r.Operator), Values: r.Values})
		}
		out = append(out, sel)
	}
	return out
}
