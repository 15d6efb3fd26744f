package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/socbot/socbot/beacon"
)

func init() {
	register("beacon", "Rank beaconing (regular call-home traffic) in Zeek conn and http logs.", &beaconCmd{})
}

type beaconCmd struct {
	MinConns  int      `help:"Ignore pairs with fewer connections." default:"5"`
	Top       int      `help:"Show at most this many pairs (0: all)." default:"20"`
	KeepLocal bool     `help:"Keep multicast, broadcast and link-local destinations (dropped by default)."`
	JSON      bool     `help:"Print the ranked list as JSON."`
	Paths     []string `arg:"" name:"PATH" help:"Zeek log files or directories (conn.log and http.log, TSV or JSON)." type:"existingfile|existingdir"`
}

func (c *beaconCmd) Help() string {
	return `Scores every source/destination pair from 0 to 1: interval regularity (skew and spread of the
gaps between connections), data size regularity, persistence (share of the observed hours with a
connection) and connection count. Requests through a web proxy (CONNECT or absolute URIs in
http.log) are scored per source and host name, so beacons hidden behind a proxy show up.

Example:
  socbot beacon ../shared/corpus/detection/zeek/rita/proxy/`
}

func (c *beaconCmd) Run(g *Globals) error {
	a := beacon.New(beacon.Options{MinConns: c.MinConns, KeepLocal: c.KeepLocal})
	st, err := beacon.LoadZeek(a, c.Paths...)
	if err != nil {
		return err
	}
	res := a.Results()
	if c.Top > 0 && len(res) > c.Top {
		res = res[:c.Top]
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"records": st.Records, "malformed": st.Malformed, "filtered_local": a.Filtered, "beacons": res})
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tSCORE\tSOURCE\tDESTINATION\tVIA PROXY\tCONNS\tINTERVAL\tSIZE\tPERSIST\tCOUNT\tWHY")
	for i, r := range res {
		proxy := r.Proxy
		if proxy == "" {
			proxy = "-"
		}
		fmt.Fprintf(tw, "%d\t%.3f\t%s\t%s\t%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%s\n", i+1, r.Score, r.Src, r.Dst, proxy, r.Conns, r.IntervalScore, r.SizeScore, r.PersistScore, r.CountScore, r.Why)
	}
	tw.Flush()
	fmt.Fprintf(os.Stderr, "%d records read, %d malformed, %d connections to local/multicast destinations dropped\n", st.Records, st.Malformed, a.Filtered)
	return nil
}
