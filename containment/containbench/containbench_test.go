package containbench

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

func TestFaultModeAccountsForEveryAction(t *testing.T) {
	res, err := Run(context.Background(), Config{Actions: 200, Faults: true, NoNftables: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Actions != 600 || res.Applied+res.Failed != res.Actions || res.DoubleApplied != 0 || res.Lost != 0 {
		t.Fatalf("%+v", res)
	}
	n := 0
	for _, v := range res.FaultsInjected {
		n += v
	}
	if n == 0 {
		t.Fatal("no faults injected")
	}
}

func TestMTTCOnNftables(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace and program nftables")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
	res, err := Run(context.Background(), Config{Actions: 50})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 50 || res.Lost != 0 || res.MTTCP50ms <= 0 {
		t.Fatalf("%+v", res)
	}
}
