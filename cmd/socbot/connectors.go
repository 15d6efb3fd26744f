package main

// Every containment connector registers its type with socbot.RegisterConnector in an init func;
// importing the packages here is what puts them in the binary.
import (
	_ "github.com/socbot/socbot/connectors/awsnfw"
	_ "github.com/socbot/socbot/connectors/awswaf"
	_ "github.com/socbot/socbot/connectors/crowdstrike"
	_ "github.com/socbot/socbot/connectors/edl"
	_ "github.com/socbot/socbot/connectors/fortigate"
	_ "github.com/socbot/socbot/connectors/mde"
	_ "github.com/socbot/socbot/connectors/mimecast"
	_ "github.com/socbot/socbot/connectors/msgraph"
	_ "github.com/socbot/socbot/connectors/netskope"
	_ "github.com/socbot/socbot/connectors/nftables"
	_ "github.com/socbot/socbot/connectors/panos"
	_ "github.com/socbot/socbot/connectors/sentinelone"
	_ "github.com/socbot/socbot/connectors/umbrella"
	_ "github.com/socbot/socbot/connectors/zscaler"
)
