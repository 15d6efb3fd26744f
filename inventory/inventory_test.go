package inventory

import (
	"testing"

	socbot "github.com/socbot/socbot"
)

func TestParseCSV(t *testing.T) {
	in := "\ufeffHostname,IP Address,Owner,Criticality,Internet_Facing,Crown_Jewel,Tags\n" +
		"db-01,10.0.0.5;10.0.1.5,dba,critical,no,yes,pci;prod\n" +
		"web-01,203.0.113.10,web,high,yes,,\n"
	got, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Hostname != "db-01" || len(got[0].IPs) != 2 || got[0].IPs[1] != "10.0.1.5" || !got[0].CrownJewel || got[0].InternetFacing || got[1].InternetFacing != true || len(got[0].Tags) != 2 {
		t.Fatalf("%+v", got)
	}
}

func TestParseCSVErrors(t *testing.T) {
	tests := []struct{ in, field string }{
		{"name,owner\n,x\n", "row 2 hostname"},
		{"host,crown_jewel\na,maybe\n", "row 2 crown_jewel"},
		{"owner,os\nx,y\n", "hostname"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.in))
		if socbot.ErrorField(err) != tc.field {
			t.Errorf("%q: field %q, want %q (%v)", tc.in, socbot.ErrorField(err), tc.field, err)
		}
	}
}

func TestParseJSON(t *testing.T) {
	for _, in := range []string{
		`[{"hostname":"a","crown_jewel":true},{"hostname":"b"}]`,
		`{"assets":[{"hostname":"a","crown_jewel":true},{"hostname":"b"}]}`,
	} {
		got, err := Parse([]byte(in))
		if err != nil || len(got) != 2 || !got[0].CrownJewel {
			t.Fatalf("%s: %+v %v", in, got, err)
		}
	}
	one, err := Parse([]byte(`{"hostname":"solo","ips":["10.1.1.1"]}`))
	if err != nil || len(one) != 1 || one[0].IPs[0] != "10.1.1.1" {
		t.Fatalf("%+v %v", one, err)
	}
	_, err = Parse([]byte(`[{"hostname":"a","ips":"10.0.0.1"}]`))
	if socbot.ErrorField(err) != "ips" {
		t.Fatalf("wrong type error should name ips: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("hostname,ips\na,1.2.3.4\n"))
	f.Add([]byte(`[{"hostname":"a"}]`))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = Parse(b) })
}
