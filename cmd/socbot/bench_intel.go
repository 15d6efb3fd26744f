package main

import "errors"

type benchIntelCmd struct{}

func (c *benchIntelCmd) Run() error { return errors.New("bench intel: not built yet") }
