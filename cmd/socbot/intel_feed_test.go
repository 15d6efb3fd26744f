package main

import "testing"

func TestReadFeedFile(t *testing.T) {
	for _, c := range []struct {
		doc   string
		names string
		ok    bool
	}{
		{"name: a\nurl: https://x.example/a\ninterval: 1h\nauth: {header: K, header_value: s}\n", "a", true},
		{"feeds:\n  - {name: a, url: 'https://x/a'}\n  - {name: b, url: 'https://x/b', options: {value: v}}\n", "ab", true},
		{`[{"name":"j","url":"https://x/j","enabled":true}]`, "j", true},
		{"name: a\nurl: https://x/a\nbogus: 1\n", "", false},
		{"name: [\n", "", false},
	} {
		list, err := readFeedFile([]byte(c.doc))
		names := ""
		for _, f := range list {
			names += f.Name
		}
		if (err == nil) != c.ok || c.ok && names != c.names {
			t.Errorf("%q: %v %q", c.doc, err, names)
		}
		if c.ok && c.names == "a" && (list[0].Auth == nil || list[0].Auth.HeaderValue != "s" || list[0].Interval != "1h") {
			t.Errorf("fields lost: %+v", list[0])
		}
	}
}
