package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	socbot "github.com/socbot/socbot"
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// status is where an error kind becomes an HTTP status: only here.
func status(k socbot.Kind) int {
	switch k {
	case socbot.KindInvalid:
		return http.StatusBadRequest
	case socbot.KindNotFound:
		return http.StatusNotFound
	case socbot.KindConflict:
		return http.StatusConflict
	case socbot.KindUnauthenticated:
		return http.StatusUnauthorized
	case socbot.KindForbidden:
		return http.StatusForbidden
	case socbot.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case socbot.KindUnavailable:
		return http.StatusServiceUnavailable
	case socbot.KindRateLimited:
		return http.StatusTooManyRequests
	case socbot.KindUnsupported:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	k := socbot.ErrorKind(err)
	code := status(k)
	msg := err.Error()
	var se *socbot.Error
	if errors.As(err, &se) && se.Msg != "" && k != socbot.KindOther {
		msg = messageOf(err)
	}
	if code >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		if k == socbot.KindOther {
			msg = "internal error"
		}
	}
	switch code {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "5")
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="socbot"`)
	}
	writeJSON(w, code, errorBody{Error: errorDetail{Kind: k.String(), Message: msg, Field: socbot.ErrorField(err)}})
}

// messageOf renders an error without the operation names of socbot's internals.
func messageOf(err error) string {
	var se *socbot.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	out := ""
	if se.Field != "" {
		out = "field " + se.Field + ": "
	}
	out += se.Msg
	if se.Err != nil {
		if se.Msg != "" {
			out += ": "
		}
		out += messageOf(se.Err)
	}
	if out == "" {
		out = se.Kind.String()
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// decodeJSON reads a JSON request body of at most 1 MiB into v, naming the field on a type error.
func decodeJSON(r *http.Request, v any) error {
	const op = "httpapi.decode"
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &te):
			return socbot.FieldError(op, te.Field, "wrong type: got %s, want %s", te.Value, te.Type)
		case errors.As(err, &se):
			return socbot.E(op, socbot.KindInvalid, "malformed JSON at byte "+itoa(se.Offset))
		case errors.As(err, &mbe):
			return socbot.E(op, socbot.KindTooLarge, "request body over 1 MiB")
		}
		return socbot.E(op, socbot.KindInvalid, "bad JSON body: "+err.Error())
	}
	return nil
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// writeList answers 200 with {key: list}, an empty list rather than null, or the error.
func writeList[T any](s *Server, w http.ResponseWriter, r *http.Request, key string, list []T, err error) {
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if list == nil {
		list = []T{}
	}
	writeJSON(w, 200, map[string]any{key: list})
}
