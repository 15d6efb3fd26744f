// Package plain reads one-indicator-per-line lists (blocklists, MISP and IntelMQ "freetext" feeds):
// comments start with '#', ';' or "//" (whole lines, or after the value), values may be defanged, and
// each value's type is recognised unless the feed fixes it. Lines are streamed.
package plain

import (
	"bufio"
	"context"
	"io"
	"strings"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

// MaxLine is the longest line accepted; a longer one means the input is not a list.
const MaxLine = 64 << 10

// Parse streams r and emits one Item per non-comment line. typ, when set, fixes the type of every
// value; otherwise ioc.Classify decides, and a line it cannot classify is emitted with an empty type
// (so that the scheduler counts it as invalid and can tell a list from garbage).
func Parse(ctx context.Context, typ ioc.Type, r io.Reader, emit func(intel.Item) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		v := Value(sc.Text())
		if v == "" {
			continue
		}
		it := intel.Item{Value: v}
		if typ != "" {
			it.Type = typ
		} else if t, n, ok := ioc.Classify(v); ok {
			it.Type, it.Value = t, n
		}
		if err := emit(it); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return socbot.E("plain.Parse", socbot.KindInvalid, err)
	}
	return nil
}

// Value returns the value of one list line: comments and blanks dropped, the first field kept
// (fields end at blanks, commas, semicolons and '|').
func Value(line string) string {
	l := strings.TrimSpace(line)
	if l == "" || l[0] == '#' || l[0] == ';' || strings.HasPrefix(l, "//") {
		return ""
	}
	if i := strings.IndexAny(l, " \t,;|"); i >= 0 {
		l = l[:i]
	}
	return l
}
