package main

import socbot "github.com/socbot/socbot"

// exitCode maps an error to the process exit status: 2 for bad input, 1 otherwise.
func exitCode(err error) int {
	switch socbot.ErrorKind(err) {
	case socbot.KindInvalid, socbot.KindNotFound, socbot.KindUnsupported:
		return 2
	}
	return 1
}
