package nftables

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/vishvananda/netns"
)

// lab is two network namespaces joined by a veth pair: "host" (where the firewall runs) has
// 192.0.2.1 and 2001:db8:5b::1, "peer" has 192.0.2.2 and 2001:db8:5b::2. Nothing leaves them.
type lab struct {
	host, peer string
}

func run(t *testing.T, args ...string) error {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("nftables netns test needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN to create network namespaces); run as root to prove blocking on real packets")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("nftables netns test needs the ip command (apt-get install iproute2)")
	}
	l := &lab{host: fmt.Sprintf("sbnft-h-%d", os.Getpid()), peer: fmt.Sprintf("sbnft-p-%d", os.Getpid())}
	if err := run(t, "ip", "netns", "add", l.host); err != nil {
		t.Skipf("cannot create a network namespace (no CAP_NET_ADMIN/CAP_SYS_ADMIN here?): %v", err)
	}
	t.Cleanup(func() { _ = run(t, "ip", "netns", "del", l.host) })
	if err := run(t, "ip", "netns", "add", l.peer); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run(t, "ip", "netns", "del", l.peer) })
	for _, cmd := range [][]string{
		{"ip", "-n", l.host, "link", "add", "sbh0", "type", "veth", "peer", "name", "sbp0", "netns", l.peer},
		{"ip", "-n", l.host, "addr", "add", "192.0.2.1/24", "dev", "sbh0"},
		{"ip", "-n", l.peer, "addr", "add", "192.0.2.2/24", "dev", "sbp0"},
		{"ip", "-n", l.host, "addr", "add", "2001:db8:5b::1/64", "dev", "sbh0", "nodad"},
		{"ip", "-n", l.peer, "addr", "add", "2001:db8:5b::2/64", "dev", "sbp0", "nodad"},
		{"ip", "-n", l.host, "link", "set", "lo", "up"},
		{"ip", "-n", l.peer, "link", "set", "lo", "up"},
		{"ip", "-n", l.host, "link", "set", "sbh0", "up"},
		{"ip", "-n", l.peer, "link", "set", "sbp0", "up"},
	} {
		if err := run(t, cmd...); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// inNS runs f on an OS thread switched into the named namespace; sockets made there stay there.
func inNS(t *testing.T, name string, f func() error) error {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(name)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return err
	}
	defer func() { _ = netns.Set(orig) }()
	return f()
}

// listen starts a TCP echo-less acceptor in namespace ns on addr; it stops with the test.
func listen(t *testing.T, ns, addr string) {
	t.Helper()
	var ln net.Listener
	network := "tcp4"
	if strings.HasPrefix(addr, "[") {
		network = "tcp6"
	}
	if err := inNS(t, ns, func() (err error) { ln, err = net.Listen(network, addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// dial connects from namespace ns; nil means the traffic flowed.
func dial(t *testing.T, ns, addr string) error {
	t.Helper()
	return inNS(t, ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 400*time.Millisecond)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

func flows(t *testing.T, ns, addr string) {
	t.Helper()
	var err error
	// The very first packets may wait for the veth link to come up and for neighbour discovery
	// (IPv6 takes a second or two on a busy machine): retry for a while before calling it blocked.
	for deadline := time.Now().Add(6 * time.Second); time.Now().Before(deadline); {
		if err = dial(t, ns, addr); err == nil {
			return
		}
	}
	t.Fatalf("traffic from %s to %s should flow: %v", ns, addr, err)
}

func dropped(t *testing.T, ns, addr string) {
	t.Helper()
	err := dial(t, ns, addr)
	if err == nil {
		t.Fatalf("traffic from %s to %s should be dropped but connected", ns, addr)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("traffic from %s to %s should be silently dropped (timeout), got %v", ns, addr, err)
	}
}

func apply(t *testing.T, c *Conn, kind socbot.ActionKind, value string, ttl time.Duration) socbot.ContainmentResult {
	t.Helper()
	res, err := c.Apply(context.Background(), []socbot.ContainmentRequest{{Kind: kind, Value: value, TTL: ttl, Reference: "soc:test-1"}})
	if err != nil {
		var ve *socbot.VendorError
		if errors.As(err, &ve) && strings.Contains(ve.Msg, "nf_tables support") {
			t.Skipf("kernel without nf_tables: %v", err)
		}
		t.Fatal(err)
	}
	if res[0].Outcome == socbot.OutcomeFailed {
		t.Fatalf("%s %s: %v", kind, value, res[0].Err)
	}
	return res[0]
}

func TestBlockDropsRealTraffic(t *testing.T) {
	l := newLab(t)
	listen(t, l.peer, "0.0.0.0:8080")
	listen(t, l.peer, "[::]:8080")
	listen(t, l.host, "0.0.0.0:9090")
	c, err := New(socbot.ConnectorConfig{ID: "host-fw", Type: Type, Options: map[string]string{"netns": l.host}})
	if err != nil {
		t.Fatal(err)
	}
	flows(t, l.host, "192.0.2.2:8080")
	flows(t, l.host, "[2001:db8:5b::2]:8080")
	flows(t, l.peer, "192.0.2.1:9090")

	// Block the peer's IPv4 address: outbound (output chain, daddr) and inbound (input chain, saddr)
	// traffic is dropped; IPv6 still flows.
	if r := apply(t, c, socbot.ActBlockIP, "192.0.2.2", time.Hour); r.Outcome != socbot.OutcomeApplied || r.ExpiresAt == nil {
		t.Fatalf("block: %+v", r)
	}
	dropped(t, l.host, "192.0.2.2:8080")
	dropped(t, l.peer, "192.0.2.1:9090")
	flows(t, l.host, "[2001:db8:5b::2]:8080")
	if r := apply(t, c, socbot.ActBlockIP, "192.0.2.2", time.Hour); r.Outcome != socbot.OutcomeAlreadyPresent {
		t.Fatalf("second block: %+v", r)
	}
	present, err := c.Check(context.Background(), []socbot.ContainmentRequest{{Kind: socbot.ActBlockIP, Value: "192.0.2.2"}, {Kind: socbot.ActBlockIP, Value: "192.0.2.3"}})
	if err != nil || !present[0] || present[1] {
		t.Fatalf("check: %v %v", present, err)
	}

	// Unblock: traffic flows again; a second unblock is AlreadyAbsent.
	if r := apply(t, c, socbot.ActUnblockIP, "192.0.2.2", 0); r.Outcome != socbot.OutcomeRemoved {
		t.Fatalf("unblock: %+v", r)
	}
	flows(t, l.host, "192.0.2.2:8080")
	flows(t, l.peer, "192.0.2.1:9090")
	if r := apply(t, c, socbot.ActUnblockIP, "192.0.2.2", 0); r.Outcome != socbot.OutcomeAlreadyAbsent {
		t.Fatalf("second unblock: %+v", r)
	}

	// IPv6 set.
	apply(t, c, socbot.ActBlockIP, "2001:db8:5b::2", 0)
	dropped(t, l.host, "[2001:db8:5b::2]:8080")
	flows(t, l.host, "192.0.2.2:8080")
	apply(t, c, socbot.ActUnblockIP, "2001:db8:5b::2", 0)
	flows(t, l.host, "[2001:db8:5b::2]:8080")

	// A CIDR covers its addresses; blocking one inside it is AlreadyPresent.
	apply(t, c, socbot.ActBlockIP, "192.0.2.0/30", 0)
	dropped(t, l.host, "192.0.2.2:8080")
	if r := apply(t, c, socbot.ActBlockIP, "192.0.2.2", 0); r.Outcome != socbot.OutcomeAlreadyPresent || !strings.Contains(r.Detail, "192.0.2.0/30") {
		t.Fatalf("address inside a blocked CIDR: %+v", r)
	}
	if got, _ := c.Blocked(context.Background()); len(got) != 1 || got[0] != "192.0.2.0/30" {
		t.Fatalf("blocked: %v", got)
	}
	apply(t, c, socbot.ActUnblockIP, "192.0.2.0/30", 0)
	flows(t, l.host, "192.0.2.2:8080")

	// A batch is one atomic commit: several adds at once.
	res, err := c.Apply(context.Background(), []socbot.ContainmentRequest{
		{Kind: socbot.ActBlockIP, Value: "192.0.2.2"}, {Kind: socbot.ActBlockIP, Value: "198.51.100.7"},
		{Kind: socbot.ActBlockIP, Value: "2001:db8:5b::2"}, {Kind: socbot.ActBlockIP, Value: "not-an-ip"}})
	if err != nil || res[0].Outcome != socbot.OutcomeApplied || res[2].Outcome != socbot.OutcomeApplied || res[3].Outcome != socbot.OutcomeFailed {
		t.Fatalf("batch: %+v %v", res, err)
	}
	dropped(t, l.host, "192.0.2.2:8080")
	dropped(t, l.host, "[2001:db8:5b::2]:8080")

	// The table can be removed and is rebuilt on the next call.
	if err := c.Teardown(); err != nil {
		t.Fatal(err)
	}
	flows(t, l.host, "192.0.2.2:8080")
	apply(t, c, socbot.ActBlockIP, "192.0.2.2", 0)
	dropped(t, l.host, "192.0.2.2:8080")
}

func TestNativeTimeoutExpires(t *testing.T) {
	l := newLab(t)
	listen(t, l.peer, "0.0.0.0:8081")
	c, err := New(socbot.ConnectorConfig{ID: "host-fw", Type: Type, Options: map[string]string{"netns": l.host, "table": "soc_ttl"}})
	if err != nil {
		t.Fatal(err)
	}
	flows(t, l.host, "192.0.2.2:8081")
	apply(t, c, socbot.ActBlockIP, "192.0.2.2", 2*time.Second)
	dropped(t, l.host, "192.0.2.2:8081")
	time.Sleep(2500 * time.Millisecond)
	flows(t, l.host, "192.0.2.2:8081")
	if got, _ := c.Blocked(context.Background()); len(got) != 0 {
		t.Fatalf("after the timeout the set still holds %v", got)
	}
}
