package fetcher

import (
	"errors"
	"net/netip"
	"testing"
)

func TestDeniedAddr(t *testing.T) {
	tests := []struct {
		addr   string
		reason string // "" allowed
	}{
		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"::ffff:192.168.1.1", "private"},
		{"fc00::1", "private"},
		{"fd00:ec2::254", "private"}, // AWS metadata over IPv6
		{"169.254.169.254", "link-local"},
		{"169.254.0.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", "this-network"},
		{"100.64.0.1", "shared (CGNAT)"},
		{"100.100.100.200", "shared (CGNAT)"}, // Alibaba metadata
		{"239.1.2.3", "multicast"},
		{"224.0.0.1", "link-local"},
		{"ff02::1", "link-local"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"198.18.0.1", "benchmarking"},
		{"64:ff9b::a9fe:a9fe", "link-local"}, // NAT64 of 169.254.169.254
		{"64:ff9b::808:808", ""},             // NAT64 of 8.8.8.8
		{"8.8.8.8", ""},
		{"93.184.215.14", ""},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"2606:4700::1111", ""},
		{"::ffff:1.1.1.1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := deniedAddr(netip.MustParseAddr(tt.addr))
			if tt.reason == "" {
				if err != nil {
					t.Errorf("deniedAddr(%s) = %v, want allowed", tt.addr, err)
				}
				return
			}
			var de *DeniedError
			if !errors.As(err, &de) {
				t.Fatalf("deniedAddr(%s) = %v, want *DeniedError", tt.addr, err)
			}
			if de.Reason != tt.reason {
				t.Errorf("deniedAddr(%s) reason = %q, want %q", tt.addr, de.Reason, tt.reason)
			}
		})
	}
}

func TestDenyControl(t *testing.T) {
	control := denyControl(denyAddrPort)
	tests := []struct {
		address string
		denied  bool
	}{
		{"127.0.0.1:80", true},
		{"[::1]:443", true},
		{"[fe80::1%eth0]:80", true},
		{"8.8.8.8:443", false},
		{"[2606:4700::1111]:443", false},
		{"not-an-ip:80", true},
		{"garbage", true},
	}
	for _, tt := range tests {
		err := control(t.Context(), "tcp", tt.address, nil)
		if got := err != nil; got != tt.denied {
			t.Errorf("control(%q) = %v, want denied %v", tt.address, err, tt.denied)
		}
	}
}
