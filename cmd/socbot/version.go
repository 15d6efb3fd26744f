package main

import (
	"fmt"
	"runtime/debug"
)

func init() { register("version", "Print the version of socbot.", &versionCmd{}) }

type versionCmd struct {
	Bots bool `help:"List the bots this binary can run."`
}

func (c *versionCmd) Run() error {
	if c.Bots {
		for _, b := range knownBots() {
			fmt.Println(b)
		}
		return nil
	}
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Println("socbot", v)
	return nil
}
