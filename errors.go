package socbot

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error so that each adapter can translate it (the HTTP layer picks a status code,
// the CLI an exit message) without knowing where it came from.
type Kind uint8

// Error kinds. KindOther is the zero value: an unexpected failure.
const (
	KindOther           Kind = iota // unclassified internal failure
	KindInvalid                     // the caller's input is wrong; Field says which part
	KindNotFound                    // the thing does not exist, or is not visible to the caller
	KindConflict                    // the change clashes with the current state
	KindUnauthenticated             // no or bad credentials
	KindForbidden                   // credentials fine, permission missing
	KindTooLarge                    // input over a size limit
	KindUnavailable                 // a dependency is down or full; retry later
	KindRateLimited                 // too many requests; retry later
	KindUnsupported                 // a format or feature that is not supported
)

var kindNames = [...]string{
	KindOther:           "internal",
	KindInvalid:         "invalid",
	KindNotFound:        "not_found",
	KindConflict:        "conflict",
	KindUnauthenticated: "unauthenticated",
	KindForbidden:       "forbidden",
	KindTooLarge:        "too_large",
	KindUnavailable:     "unavailable",
	KindRateLimited:     "rate_limited",
	KindUnsupported:     "unsupported",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is the one error type of socbot: the operation that failed, what kind of failure it was,
// the field of the input it concerns (if any), a message for people, and the underlying error.
type Error struct {
	Op    string // operation, e.g. "sqlstore.CreateTenant" or "normalize.crowdstrike"
	Kind  Kind
	Field string // input field the error is about, e.g. "severity" or "device.hostname"
	Msg   string // human-readable detail
	Err   error  // underlying error, may be nil
}

// E builds an *Error. Arguments may be, in any order: a Kind, an error (the cause), and strings.
// The first string is the operation and a second one the message.
func E(args ...any) error {
	e := &Error{}
	var strs []string
	for _, a := range args {
		switch v := a.(type) {
		case Kind:
			e.Kind = v
		case *Error:
			cp := *v
			e.Err = &cp
		case error:
			e.Err = v
		case string:
			strs = append(strs, v)
		}
	}
	if len(strs) > 0 {
		e.Op = strs[0]
	}
	if len(strs) > 1 {
		e.Msg = strings.Join(strs[1:], ": ")
	}
	if e.Kind == KindOther && e.Err != nil {
		e.Kind = ErrorKind(e.Err)
	}
	return e
}

// FieldError reports invalid input about one field.
func FieldError(op, field, format string, args ...any) error {
	return &Error{Op: op, Kind: KindInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString("field ")
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Msg != "" {
		b.WriteString(e.Msg)
	}
	if e.Err != nil {
		if e.Msg != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	if e.Msg == "" && e.Err == nil {
		b.WriteString(e.Kind.String())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorKind returns the Kind of the outermost *Error in err's chain that has one, or KindOther.
func ErrorKind(err error) Kind {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return KindOther
		}
		if e.Kind != KindOther {
			return e.Kind
		}
		err = e.Err
	}
	return KindOther
}

// ErrorField returns the innermost field name carried by err, or "".
func ErrorField(err error) string {
	field := ""
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			break
		}
		if e.Field != "" {
			field = e.Field
		}
		err = e.Err
	}
	return field
}

// IsKind reports whether err is of kind k.
func IsKind(err error, k Kind) bool { return ErrorKind(err) == k }
