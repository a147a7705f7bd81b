package fetcher

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
)

// DeniedError is the cause of a model.ErrClassDenied error: the address a
// host name resolved to is not on the public internet.
type DeniedError struct {
	Addr   string // the IP address refused
	Reason string // "loopback", "private", "link-local", ...
}

// Error says which address was refused and why.
func (e *DeniedError) Error() string {
	return fmt.Sprintf("denied: %s is not a public address (%s) and private networks are refused", e.Addr, e.Reason)
}

// nonPublic lists ranges beyond what netip.Addr's predicates cover.
var nonPublic = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard"},
}

var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// deniedAddr says why ip must not be dialled, or nil when it is public.
// Cloud metadata endpoints (169.254.169.254, fd00:ec2::254,
// 100.100.100.200) fall under link-local, private and CGNAT.
func deniedAddr(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	reason := ""
	switch {
	case a.IsLoopback():
		reason = "loopback"
	case a.IsUnspecified():
		reason = "unspecified"
	case a.IsPrivate():
		reason = "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		reason = "link-local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		reason = "multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		reason = "broadcast"
	}
	if reason == "" {
		for _, n := range nonPublic {
			if n.prefix.Contains(a) {
				reason = n.reason
				break
			}
		}
	}
	// NAT64 (64:ff9b::/96) embeds an IPv4 address: judge that one.
	if reason == "" && a.Is6() && nat64.Contains(a) {
		b := a.As16()
		if err := deniedAddr(netip.AddrFrom4([4]byte(b[12:16]))); err != nil {
			return &DeniedError{Addr: a.String(), Reason: err.(*DeniedError).Reason}
		}
	}
	if reason == "" {
		return nil
	}
	return &DeniedError{Addr: a.String(), Reason: reason}
}

// denyControl checks each address the dialer is about to connect to: after
// DNS, so a public name that resolves to a private address is refused too,
// and on every redirect hop since each new connection dials again.
func denyControl(deny func(netip.AddrPort) error) func(ctx context.Context, network, address string, c syscall.RawConn) error {
	return func(_ context.Context, _, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &DeniedError{Addr: address, Reason: "unparsable"}
		}
		return deny(ap)
	}
}

// denyAddrPort is the production check: the port does not matter.
func denyAddrPort(ap netip.AddrPort) error { return deniedAddr(ap.Addr()) }
