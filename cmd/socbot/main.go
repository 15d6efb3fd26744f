// Command socbot is the one binary of socbot: the server, its bots, and the operator's tools.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"sort"

	"github.com/alecthomas/kong"
)

// Globals are the flags every command has.
type Globals struct {
	Config    string `help:"Configuration file (YAML). Also read from SOCBOT_CONFIG." env:"SOCBOT_CONFIG" type:"path" placeholder:"FILE"`
	LogLevel  string `help:"Log level: debug, info, warn, error." default:"info" env:"SOCBOT_LOG_LEVEL" enum:"debug,info,warn,error"`
	LogFormat string `help:"Log format: json or text." default:"json" env:"SOCBOT_LOG_FORMAT" enum:"json,text"`
}

// Logger returns the structured logger the globals ask for. Logs go to stderr; stdout is for results.
func (g *Globals) Logger() *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(g.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if g.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// command is one entry of the command registry: each command's file registers itself in init, so
// that the bots' commands can be added without touching this file.
type command struct {
	name, help, group string
	cmd               any
}

// commands is the module registry of CLI commands (the one permitted global).
var commands []command

func register(name, help string, cmd any) {
	commands = append(commands, command{name: name, help: help, cmd: cmd})
}

func main() {
	var globals Globals
	opts := []kong.Option{
		kong.Name("socbot"),
		kong.Description("socbot: the SOC automation platform for managed security providers.\n\nRun 'socbot demo' to try it, 'socbot serve' to run it, and 'socbot <command> --help' for any command."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Bind(&globals),
	}
	sort.Slice(commands, func(i, j int) bool { return commands[i].name < commands[j].name })
	for _, c := range commands {
		opts = append(opts, kong.DynamicCommand(c.name, c.help, c.group, c.cmd))
	}
	ctx := kong.Parse(&globals, opts...)
	if err := ctx.Run(&globals); err != nil {
		fmt.Fprintln(os.Stderr, "socbot:", err)
		os.Exit(exitCode(err))
	}
}
