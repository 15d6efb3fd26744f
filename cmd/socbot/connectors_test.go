package main

import (
	"slices"
	"testing"

	"github.com/socbot/socbot"
)

func TestEveryConnectorRegistered(t *testing.T) {
	got := socbot.ConnectorTypes()
	for _, want := range []string{"awsnfw", "awswaf", "crowdstrike", "edl", "fortigate", "mde", "mimecast", "msgraph", "netskope", "nftables", "panos", "sentinelone", "umbrella", "zscaler"} {
		if !slices.Contains(got, want) {
			t.Errorf("connector type %q not registered in the binary (have %v)", want, got)
		}
	}
}
