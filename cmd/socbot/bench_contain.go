package main

import "errors"

type benchContainCmd struct{}

func (c *benchContainCmd) Run() error { return errors.New("bench contain: not built yet") }
