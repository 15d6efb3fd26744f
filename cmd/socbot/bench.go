package main

func init() {
	register("bench", "Measure socbot's hot paths on this machine and print the figures as JSON.", &benchCmd{})
}

// benchCmd groups the benchmarks; each bot owns its subcommand in its own bench_*.go file.
type benchCmd struct {
	Triage  benchTriageCmd  `cmd:"" help:"Alerts through HTTP ingest, the bus and triage to incidents in the database."`
	Intel   benchIntelCmd   `cmd:"" help:"Indicator import, match-index lookups and memory per indicator."`
	Detect  benchDetectCmd  `cmd:"" help:"Sigma rules over JSON events and EVTX records."`
	Contain benchContainCmd `cmd:"" help:"Mean time to contain on the automatic path, and behaviour under vendor faults."`
	Report  benchReportCmd  `cmd:"" help:"Management report HTML and PDF for a tenant-month of data."`
}
