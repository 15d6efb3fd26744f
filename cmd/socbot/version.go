package main

import (
	"fmt"
	"runtime/debug"
)

func init() { register("version", "Print the version of socbot.", &versionCmd{}) }

type versionCmd struct{}

func (c *versionCmd) Run() error {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Println("socbot", v)
	return nil
}
