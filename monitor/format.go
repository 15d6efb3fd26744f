package monitor

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/valyala/fastjson"
)

// Format is a log file format.
type Format string

// Formats the monitor reads.
const (
	FormatUnknown  Format = ""
	FormatEVTX     Format = "evtx"
	FormatJSON     Format = "json" // JSON Lines, a JSON array, or concatenated JSON objects
	FormatEve      Format = "eve"
	FormatZeekTSV  Format = "zeek-tsv"
	FormatZeekJSON Format = "zeek-json"
	FormatSyslog   Format = "syslog"
)

// ParseFormat reads a format name (as given on the command line); "" and "auto" mean detect.
func ParseFormat(s string) (Format, bool) {
	switch f := Format(strings.ToLower(s)); f {
	case "", "auto":
		return FormatUnknown, true
	case "jsonl", "ndjson":
		return FormatJSON, true
	case FormatEVTX, FormatJSON, FormatEve, FormatZeekTSV, FormatZeekJSON, FormatSyslog:
		return f, true
	}
	return FormatUnknown, false
}

// DetectFormat guesses a file's format from its first bytes (and its name for Zeek JSON).
func DetectFormat(name string, head []byte) Format {
	if len(head) >= 8 && string(head[:8]) == "ElfFile\x00" {
		return FormatEVTX
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	if len(trimmed) == 0 {
		return FormatUnknown
	}
	if bytes.HasPrefix(trimmed, []byte("#separator")) || bytes.HasPrefix(trimmed, []byte("#fields")) {
		return FormatZeekTSV
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		line := trimmed
		if i := bytes.IndexByte(line, '\n'); i > 0 {
			line = line[:i]
		}
		if trimmed[0] == '[' {
			line = bytes.TrimLeft(line[1:], " \t\r\n")
		}
		var p fastjson.Parser
		if v, err := p.ParseBytes(line); err == nil {
			switch {
			case v.Exists("event_type") && (v.Exists("src_ip") || v.Exists("flow_id") || v.Exists("timestamp")):
				return FormatEve
			case v.Exists("_path"), v.Exists("ts") && (v.Exists("uid") || v.Exists("id.orig_h")):
				return FormatZeekJSON
			}
		}
		return FormatJSON
	}
	if looksLikeSyslog(trimmed) {
		return FormatSyslog
	}
	base := strings.ToLower(filepath.Base(name))
	if strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".ndjson") {
		return FormatJSON
	}
	return FormatUnknown
}

func looksLikeSyslog(b []byte) bool {
	if b[0] == '<' {
		i := bytes.IndexByte(b[:min(len(b), 6)], '>')
		return i >= 2
	}
	if len(b) >= 16 && b[3] == ' ' && b[9] == ':' && b[12] == ':' {
		switch string(b[:3]) {
		case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec":
			return true
		}
	}
	// rsyslog RFC 3339 timestamps: 2024-03-09T08:01:02...
	return len(b) > 20 && b[4] == '-' && b[7] == '-' && b[10] == 'T'
}

// DetectFile reads the head of a file and detects its format.
func DetectFile(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return FormatUnknown, err
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return FormatUnknown, err
	}
	return DetectFormat(path, head[:n]), nil
}
