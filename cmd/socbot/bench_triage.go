package main

import "errors"

type benchTriageCmd struct{}

func (c *benchTriageCmd) Run() error { return errors.New("bench triage: not built yet") }
