package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// Period is a report's time range [From, To) with the label it was asked for.
type Period struct {
	Label string
	From  time.Time
	To    time.Time
}

// ParsePeriod reads a period in the tenant's time zone: "2026-10" (a month), "2026-Q3" (a quarter),
// or "FROM..TO" with dates (2026-10-01..2026-10-15, both days included) or RFC 3339 times (TO excluded).
func ParsePeriod(s string, loc *time.Location) (Period, error) {
	const op = "report.ParsePeriod"
	s = strings.TrimSpace(s)
	if loc == nil {
		loc = time.UTC
	}
	bad := func(why string) (Period, error) {
		return Period{}, socbot.FieldError(op, "period", "%q: %s (use 2026-10, 2026-Q3 or 2026-10-01..2026-10-15)", s, why)
	}
	if from, to, ok := strings.Cut(s, ".."); ok {
		f, fDate, err := parseWhen(from, loc)
		if err != nil {
			return bad("bad start: " + err.Error())
		}
		t, tDate, err := parseWhen(to, loc)
		if err != nil {
			return bad("bad end: " + err.Error())
		}
		_ = fDate
		if tDate {
			y, m, d := t.Date()
			t = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		}
		if !t.After(f) {
			return bad("the end is not after the start")
		}
		if t.Sub(f) > 366*24*time.Hour+time.Hour {
			return bad("a report covers at most a year")
		}
		return Period{Label: s, From: f, To: t}, nil
	}
	if y, q, ok := strings.Cut(s, "-Q"); ok {
		year, err1 := strconv.Atoi(y)
		n, err2 := strconv.Atoi(q)
		if err1 != nil || err2 != nil || n < 1 || n > 4 || year < 1970 || year > 9999 {
			return bad("not a quarter")
		}
		from := time.Date(year, time.Month(3*(n-1)+1), 1, 0, 0, 0, 0, loc)
		return Period{Label: s, From: from, To: from.AddDate(0, 3, 0)}, nil
	}
	t, err := time.ParseInLocation("2006-01", s, loc)
	if err != nil {
		return bad("not a month, quarter or range")
	}
	return Period{Label: s, From: t, To: t.AddDate(0, 1, 0)}, nil
}

func parseWhen(s string, loc *time.Location) (time.Time, bool, error) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, true, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, false, fmt.Errorf("%q is neither a date nor an RFC 3339 time", s)
	}
	return t, false, nil
}

// LastComplete returns the newest month or quarter that ended at or before now, in loc.
func LastComplete(cadence string, now time.Time, loc *time.Location) Period {
	n := now.In(loc)
	y, m, _ := n.Date()
	if cadence == socbot.CadenceQuarterly {
		qStart := time.Date(y, time.Month(3*((int(m)-1)/3)+1), 1, 0, 0, 0, 0, loc)
		from := qStart.AddDate(0, -3, 0)
		return Period{Label: fmt.Sprintf("%d-Q%d", from.Year(), (int(from.Month())-1)/3+1), From: from, To: qStart}
	}
	mStart := time.Date(y, m, 1, 0, 0, 0, 0, loc)
	from := mStart.AddDate(0, -1, 0)
	return Period{Label: from.Format("2006-01"), From: from, To: mStart}
}

// RunHour is the local hour a scheduled report is produced on the first day after its period.
const RunHour = 6

// NextRun returns when a schedule should next produce a report after time after: 06:00 local on the
// first day of the next month or quarter.
func NextRun(cadence string, after time.Time, loc *time.Location) time.Time {
	n := after.In(loc)
	y, m, _ := n.Date()
	var start time.Time
	if cadence == socbot.CadenceQuarterly {
		start = time.Date(y, time.Month(3*((int(m)-1)/3)+1), 1, RunHour, 0, 0, 0, loc)
		if !start.After(after) {
			start = start.AddDate(0, 3, 0)
		}
	} else {
		start = time.Date(y, m, 1, RunHour, 0, 0, 0, loc)
		if !start.After(after) {
			start = start.AddDate(0, 1, 0)
		}
	}
	return start.UTC()
}
