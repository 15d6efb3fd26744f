package main

import "errors"

type benchDetectCmd struct{}

func (c *benchDetectCmd) Run() error { return errors.New("bench detect: not built yet") }
