package httpapi

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	socbot "github.com/socbot/socbot"
)

// writeList answers an empty list as [] (clients iterate it without a null check) and an error as
// the error's status.
func TestWriteList(t *testing.T) {
	s := &Server{Deps: Deps{Logger: slog.New(slog.DiscardHandler)}}
	for _, c := range []struct {
		list []socbot.Tenant
		err  error
		code int
		body string
	}{
		{nil, nil, 200, `{"tenants":[]}`},
		{[]socbot.Tenant{{Name: "acme"}}, nil, 200, `"name":"acme"`},
		{nil, socbot.E("test", socbot.KindNotFound, errors.New("gone")), 404, `"error"`},
	} {
		w := httptest.NewRecorder()
		writeList(s, w, httptest.NewRequest("GET", "/api/v1/tenants", nil), "tenants", c.list, c.err)
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("%v %v: %d %s; want %d with %s", c.list, c.err, w.Code, w.Body.String(), c.code, c.body)
		}
	}
}
