package normalize

import (
	"errors"
	"strings"
	"testing"

	socbot "github.com/socbot/socbot"
)

type recResult struct {
	index int
	rec   string
	err   string // substring expected in the error, "" for none
}

func collect(t *testing.T, body string) []recResult {
	t.Helper()
	var out []recResult
	err := Records([]byte(body), func(i int, rec []byte, err error) error {
		r := recResult{index: i, rec: string(rec)}
		if err != nil {
			if rec != nil {
				t.Errorf("record %d: rec must be nil with an error", i)
			}
			if !socbot.IsKind(err, socbot.KindInvalid) {
				t.Errorf("record %d: error kind %v, want invalid", i, socbot.ErrorKind(err))
			}
			r.err = err.Error()
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Records returned %v", err)
	}
	return out
}

func TestRecords(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []recResult
	}{
		{"empty", "", nil},
		{"whitespace", " \r\n\t ", nil},
		{"single object", `{"a":1}`, []recResult{{0, `{"a":1}`, ""}}},
		{"single pretty object", "{\n  \"a\": [1, 2],\n  \"b\": {\"c\": null}\n}\n", []recResult{{0, "{\n  \"a\": [1, 2],\n  \"b\": {\"c\": null}\n}", ""}}},
		{"bom", "\xef\xbb\xbf{\"a\":1}", []recResult{{0, `{"a":1}`, ""}}},
		{"array", `[{"a":1}, {"b":2}]`, []recResult{{0, `{"a":1}`, ""}, {1, `{"b":2}`, ""}}},
		{"empty array", `[ ]`, nil},
		{"ndjson", "{\"a\":1}\n{\"b\":2}\n", []recResult{{0, `{"a":1}`, ""}, {1, `{"b":2}`, ""}}},
		{"ndjson crlf and blank lines", "{\"a\":1}\r\n\r\n\n{\"b\":2}\r\n", []recResult{{0, `{"a":1}`, ""}, {1, `{"b":2}`, ""}}},
		{"ndjson bad line continues", "{\"a\":1}\n{\"b\":\n{\"c\":3}\n", []recResult{
			{0, `{"a":1}`, ""},
			{1, "", "malformed JSON at byte 22 (line 4) in the record starting at byte 8 (line 2)"},
			{2, `{"c":3}`, ""},
		}},
		{"ndjson unterminated string", "{\"a\":\"x}\n{\"c\":3}", []recResult{
			{0, "", "control character 0x0a"},
			{1, `{"c":3}`, ""},
		}},
		{"ndjson garbage line", "hello\n{\"c\":3}", []recResult{
			{0, "", "unexpected 'h', expected a value"},
			{1, `{"c":3}`, ""},
		}},
		{"ndjson scalar line", "42\n\"s\"\n{\"c\":3}", []recResult{
			{0, "", "is a JSON number, not an object"},
			{1, "", "is a JSON string, not an object"},
			{2, `{"c":3}`, ""},
		}},
		{"array with non-object element continues", `[{"a":1}, 7, {"b":2}]`, []recResult{
			{0, `{"a":1}`, ""},
			{1, "", "is a JSON number, not an object"},
			{2, `{"b":2}`, ""},
		}},
		{"broken array gives up", `[{"a":1}, {"b":}, {"c":3}]`, []recResult{
			{0, `{"a":1}`, ""},
			{1, "", "unexpected '}', expected a value"},
		}},
		{"unclosed array", `[{"a":1}`, []recResult{
			{0, `{"a":1}`, ""},
			{1, "", "array opened at byte 0 is not closed"},
		}},
		{"array missing comma", `[{"a":1} {"b":2}]`, []recResult{
			{0, `{"a":1}`, ""},
			{1, "", "expected ',' or ']' after an array element"},
		}},
		{"trailing comma in object", `{"a":1,}`, []recResult{{0, "", "expected an object key"}}},
		{"leading zero", `{"a":01}`, []recResult{{0, "", "leading zero"}}},
		{"bad escape", `{"a":"\x"}`, []recResult{{0, "", "invalid escape"}}},
		{"bad unicode escape", `{"a":"\u12G4"}`, []recResult{{0, "", "invalid \\u escape"}}},
		{"array then ndjson", "[{\"a\":1}]\n{\"b\":2}\n", []recResult{{0, `{"a":1}`, ""}, {1, `{"b":2}`, ""}}},
		{"objects on one line", `{"a":1} {"b":2}`, []recResult{{0, `{"a":1}`, ""}, {1, `{"b":2}`, ""}}},
		{"escapes and unicode", `{"a":"\"q\" \\ \/ \b\f\n\r\t \u00e9 é"}`, []recResult{{0, `{"a":"\"q\" \\ \/ \b\f\n\r\t \u00e9 é"}`, ""}}},
		{"numbers", `{"a":[0,-1,1.5,-0.25e-3,1E10]}`, []recResult{{0, `{"a":[0,-1,1.5,-0.25e-3,1E10]}`, ""}}},
		{"literals", `{"a":[true,false,null]}`, []recResult{{0, `{"a":[true,false,null]}`, ""}}},
		{"bad literal", `{"a":tru}`, []recResult{{0, "", "invalid literal"}}},
		{"deep nesting", strings.Repeat("[", 300) + strings.Repeat("]", 300), []recResult{{0, "", "nesting deeper than 200"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collect(t, tt.body)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.index != w.index || g.rec != w.rec {
					t.Errorf("record %d: got (%d, %q), want (%d, %q)", i, g.index, g.rec, w.index, w.rec)
				}
				if (w.err == "") != (g.err == "") || !strings.Contains(g.err, w.err) {
					t.Errorf("record %d: error %q, want one containing %q", i, g.err, w.err)
				}
			}
		})
	}
}

func TestRecordsStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Records([]byte("{}\n{}\n{}"), func(int, []byte, error) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("got err %v after %d records, want stop after 2", err, n)
	}
}

func TestRecordsNoAllocs(t *testing.T) {
	body := []byte(strings.Repeat(`{"a":"b","c":[1,2,{"d":true}]}`+"\n", 100))
	n := 0
	fn := func(int, []byte, error) error { n++; return nil }
	allocs := testing.AllocsPerRun(20, func() { _ = Records(body, fn) })
	if n != 2100 { // 21 runs (one warm-up) of 100 records
		t.Fatalf("saw %d records, want 2100", n)
	}
	if allocs > 0 {
		t.Fatalf("Records allocated %.1f times per body of 100 records", allocs)
	}
}
