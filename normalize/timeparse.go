package normalize

import (
	"bytes"
	"math"
	"time"

	socbot "github.com/socbot/socbot"
)

// futureSlack is how far ahead of the ingest time a source time may be before it is distrusted.
const futureSlack = 24 * time.Hour

// setTime sets a.DetectedAt from the source time t (ok=false: none usable). A missing time, or one
// before 1971, becomes now with FlagTimeMissing; one more than 24 h after now becomes now with
// FlagTimeFuture.
func setTime(a *socbot.Alert, t time.Time, ok bool, now time.Time) {
	switch {
	case !ok || t.Unix() < 365*24*3600:
		a.DetectedAt = now.UTC()
		a.Flags = append(a.Flags, socbot.FlagTimeMissing)
	case t.After(now.Add(futureSlack)):
		a.DetectedAt = now.UTC()
		a.Flags = append(a.Flags, socbot.FlagTimeFuture)
	default:
		a.DetectedAt = t.UTC()
	}
}

// usable reports whether t can stand as a detection time (set and after 1970; epoch zero is a placeholder).
func usable(t time.Time, ok bool) bool { return ok && t.Unix() >= 365*24*3600 }

// parseTime reads an ISO 8601 / RFC 3339 time: "2006-01-02", "2006-01-02T15:04[:05[.fraction]]" with 'T'
// or a space, then "Z", "+hh:mm", "+hhmm", "+hh" or nothing (UTC). A string of digits is an epoch.
func parseTime(b []byte) (time.Time, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return time.Time{}, false
	}
	if isNumeric(b) {
		return parseEpoch(b)
	}
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := digitsN(b[0:4])
	month, ok2 := digitsN(b[5:7])
	day, ok3 := digitsN(b[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	var hour, min, sec, nsec int
	rest := b[10:]
	if len(rest) > 0 {
		if rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ' {
			return time.Time{}, false
		}
		rest = rest[1:]
		if len(rest) < 5 || rest[2] != ':' {
			return time.Time{}, false
		}
		var ok bool
		if hour, ok = digitsN(rest[0:2]); !ok || hour > 23 {
			return time.Time{}, false
		}
		if min, ok = digitsN(rest[3:5]); !ok || min > 59 {
			return time.Time{}, false
		}
		rest = rest[5:]
		if len(rest) >= 3 && rest[0] == ':' {
			if sec, ok = digitsN(rest[1:3]); !ok || sec > 60 {
				return time.Time{}, false
			}
			rest = rest[3:]
			if len(rest) > 1 && (rest[0] == '.' || rest[0] == ',') {
				i := 1
				scale := 100000000
				for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
					nsec += int(rest[i]-'0') * scale
					scale /= 10
					i++
				}
				if i == 1 {
					return time.Time{}, false
				}
				rest = rest[i:]
			}
		}
	}
	offset := 0
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case bytes.Equal(rest, []byte(" UTC")) || bytes.Equal(rest, []byte("UTC")):
	case rest[0] == '+' || rest[0] == '-':
		z := rest[1:]
		var hh, mm int
		var ok bool
		switch {
		case len(z) == 2:
			hh, ok = digitsN(z)
		case len(z) == 4:
			hh, ok = digitsN(z[0:2])
			if ok {
				mm, ok = digitsN(z[2:4])
			}
		case len(z) == 5 && z[2] == ':':
			hh, ok = digitsN(z[0:2])
			if ok {
				mm, ok = digitsN(z[3:5])
			}
		}
		if !ok || hh > 23 || mm > 59 {
			return time.Time{}, false
		}
		offset = hh*3600 + mm*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC)
	if t.Day() != day { // 31 February and the like
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

func digitsN(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

func isNumeric(b []byte) bool {
	dot := false
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0:
			dot = true
		default:
			return false
		}
	}
	return len(b) > 0
}

// parseEpoch reads a non-negative epoch number as written in JSON. The unit follows its size: below
// 1e11 seconds (fractions allowed), below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
func parseEpoch(b []byte) (time.Time, bool) {
	var ip int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if ip > math.MaxInt64/10-10 {
			return time.Time{}, false
		}
		ip = ip*10 + int64(b[i]-'0')
	}
	if i == 0 {
		return time.Time{}, false
	}
	var frac float64
	if i < len(b) {
		if b[i] != '.' {
			return time.Time{}, false // negative, exponent or junk
		}
		scale := 0.1
		for i++; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			frac += float64(c-'0') * scale
			scale /= 10
		}
	}
	switch {
	case ip < 1e11:
		return time.Unix(ip, int64(frac*1e9)).UTC(), true
	case ip < 1e14:
		return time.UnixMilli(ip).Add(time.Duration(frac * 1e6)).UTC(), true
	case ip < 1e17:
		return time.UnixMicro(ip).UTC(), true
	default:
		return time.Unix(0, ip).UTC(), true
	}
}
