package ioc

import (
	"bytes"
	"strings"
	"testing"
)

// proseText is English prose with a few indicators, the common case for advisories and posts.
var proseText = func() []byte {
	para := "The actor sent a phishing e-mail from billing@invoice-mailer.example.com with a link to " +
		"hxxps://cdn-update[.]net/download/setup.php?id=42 and the dropper contacted 198.51.100[.]23 on port 8443. " +
		"Analysts observed the loader (version 2.4.1) writing config.dat and svchost.exe, then beaconing to " +
		"evil-c2[.]com every 60 seconds. The SHA-256 of the payload is " +
		"3b097edc9de742b9bf7197d046b3fd6a45349fb686597d6d63cdbd45f6d6052c and it exploits CVE-2023-23397 (T1566.001). " +
		"Nothing else in this paragraph is interesting, it is ordinary text about the incident, the timeline, " +
		"the people involved and the lessons learned, written by a tired analyst late at night. Meanwhile the " +
		"remediation steps included resetting credentials, rebuilding hosts and reviewing firewall rules.\n"
	var b bytes.Buffer
	for b.Len() < 4<<20 {
		b.WriteString(para)
	}
	return b.Bytes()
}()

// denseText is an IOC list such as a threat-report appendix: almost every token is an indicator.
var denseText = func() []byte {
	lines := []string{
		"- 81.169.145[.]72 port 80 - paul-und-emily[.]de - GET /blog/open_array/tUt1_OpVNbKhn/",
		"- 2021-08-12 - 212[.]192.241.87/bins/dark.arm7 - 48ee995e0437b71e4340ca940be097ca7777b39f6115657e39746d4e0a47ab54",
		"hXXp://grosirkecantikan[.]com/wp-content/plugins/contact-form-7/includes/binarystings[.]php",
		"a6007afd081917d795ffb026a8008237",
		"www[.]schonemaas[.]nl",
	}
	var b bytes.Buffer
	for b.Len() < 4<<20 {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}()

func benchExtract(b *testing.B, text []byte) {
	e := New(Options{})
	n := 0
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Extract(text, func(IOC) { n++ })
	}
	if n == 0 {
		b.Fatal("nothing extracted")
	}
}

func BenchmarkExtractProse(b *testing.B) { benchExtract(b, proseText) }
func BenchmarkExtractDense(b *testing.B) { benchExtract(b, denseText) }

func BenchmarkExtractReader(b *testing.B) {
	e := New(Options{})
	b.SetBytes(int64(len(proseText)))
	for i := 0; i < b.N; i++ {
		if err := e.ExtractReader(bytes.NewReader(proseText), func(IOC) {}); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = strings.Repeat
