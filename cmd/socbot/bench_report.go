package main

import "errors"

type benchReportCmd struct{}

func (c *benchReportCmd) Run() error { return errors.New("bench report: not built yet") }
