package syslog

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func render(m Message) string {
	s := fmt.Sprintf("%s|%d|%d|%s|%s|%s|%s|%s|%s", m.Format, m.Facility, m.Severity, m.Time.Format(time.RFC3339Nano), m.Hostname, m.AppName, m.ProcID, m.MsgID, m.Message)
	for _, e := range m.SD {
		s += "|[" + e.ID
		for _, p := range e.Params {
			s += " " + p.Name + "=" + p.Value
		}
		s += "]"
	}
	return s
}

func TestParse(t *testing.T) {
	p := &Parser{Clock: fixedClock{time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)}}
	tests := []struct {
		name, in, want string
		err            bool
	}{
		{"rfc5424 full", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event`,
			`rfc5424|20|5|2003-10-11T22:14:15.003Z|mymachine.example.com|evntslog||ID47|An application event|[exampleSDID@32473 iut=3 eventSource=Application]`, false},
		{"rfc5424 nil values", `<34>1 - - - - - -`, `rfc5424|4|2|0001-01-01T00:00:00Z|||||`, false},
		{"rfc5424 escaped sd", `<13>1 2024-01-01T00:00:00+01:00 h a 1 m [x@1 k="a\"b\]c"] msg`, `rfc5424|1|5|2023-12-31T23:00:00Z|h|a|1|m|msg|[x@1 k=a"b]c]`, false},
		{"rfc5424 bad sd", `<13>1 2024-01-01T00:00:00Z h a 1 m [x@1 k="open`, ``, true},
		{"rfc3164", `<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8`,
			`rfc3164|4|2|2023-10-11T22:14:15Z|mymachine|su|||'su root' failed for lonvick on /dev/pts/8`, false},
		{"rfc3164 pid", `<38>Mar  9 08:01:02 web01 sshd[4321]: Failed password for root from 203.0.113.5 port 22 ssh2`,
			`rfc3164|4|6|2024-03-09T08:01:02Z|web01|sshd|4321||Failed password for root from 203.0.113.5 port 22 ssh2`, false},
		{"plain auth.log", `Mar  9 08:01:02 web01 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash`,
			`plain|-1|-1|2024-03-09T08:01:02Z|web01|sudo|||  alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash`, false},
		{"rsyslog rfc3339", `<86>2024-03-09T08:01:02.5+00:00 db1 cron[7]: job done`, `rfc3164|10|6|2024-03-09T08:01:02.5Z|db1|cron|7||job done`, false},
		{"no timestamp", `<13>hello world`, `rfc3164|1|5|0001-01-01T00:00:00Z|||||hello world`, false},
		{"bad pri", `<999>1 - - - - - -`, ``, true},
		{"empty", ``, ``, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := p.Parse([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err == nil && render(m) != tc.want {
				t.Errorf("got  %s\nwant %s", render(m), tc.want)
			}
		})
	}
}

func TestReadStreamFraming(t *testing.T) {
	s := NewServer(ServerConfig{MaxMessage: 64}, &Parser{}, nil, nil)
	in := "17 <13>1 - - - - - a" + "<13>line one\n" + "12345 not a count\n" + "\n\n<13>last without newline"
	var got []string
	if err := s.ReadStream(strings.NewReader(in), func(b []byte) { got = append(got, string(b)) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"<13>1 - - - - - a", "<13>line one", "12345 not a count", "<13>last without newline"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// a connection that starts with newline framing never reads a count again, and a plain line
	// whose digits and space are not followed by a PRI is a line even as the first frame
	for _, tc := range []struct{ in, want string }{
		{"<13>first\n12 <34> is not a frame\n5 <13>x\n", "<13>first|12 <34> is not a frame|5 <13>x"},
		{"10 <b>bold</b> text\n<13>next\n", "10 <b>bold</b> text|<13>next"},
		{"404 <html>\n", "404 <html>"},
		{"2 <1>\n", "2 <1>"},
		{"6 <134>x6 <134>y", "<134>x|<134>y"},
		{"6 <134>x<13>line\n123456789 <13>z\n", "<134>x|<13>line|123456789 <13>z"},
	} {
		got = nil
		if err := s.ReadStream(strings.NewReader(tc.in), func(b []byte) { got = append(got, string(b)) }); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, strings.Join(got, "|"), tc.want)
		}
	}
	// over-long frames are truncated, not buffered without bound
	got = nil
	long := "<13>" + strings.Repeat("x", 200) + "\n<13>next\n"
	s.ReadStream(strings.NewReader(long), func(b []byte) { got = append(got, string(b)) })
	if len(got) != 2 || len(got[0]) != 64 || got[1] != "<13>next" {
		t.Errorf("long line handling: %q", got)
	}
}

func TestListeners(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []string
	done := make(chan struct{}, 10)
	h := func(_ context.Context, m Message, from netip.Addr) {
		mu.Lock()
		got = append(got, m.AppName+":"+m.Message+"@"+from.String())
		mu.Unlock()
		done <- struct{}{}
	}
	srv := NewServer(ServerConfig{}, &Parser{}, h, nil)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- srv.ServeUDP(ctx, pc) }()
	go func() { errs <- srv.ServeTCP(ctx, l) }()

	uc, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	uc.Write([]byte("<13>Mar  9 08:01:02 h udpapp: over udp"))
	uc.Close()
	tc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tc, "<13>Mar  9 08:01:02 h tcpapp: over tcp\n")
	// a newline-framed connection keeps its framing: this is a line, not a 12-byte frame
	fmt.Fprintf(tc, "12 <34> was seen\n")
	tc.Close()
	// octet counting on its own connection (RFC 6587: one framing per connection)
	oc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	msg := "<13>1 2024-01-01T00:00:00Z h octapp - - - framed"
	fmt.Fprintf(oc, "%d %s", len(msg), msg)
	oc.Close()
	for i := 0; i < 4; i++ {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out; got %v", got)
		}
	}
	cancel()
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(got, "\n")
	for _, w := range []string{"udpapp:over udp@127.0.0.1", "tcpapp:over tcp@127.0.0.1", "octapp:framed@127.0.0.1", ":12 <34> was seen@127.0.0.1"} {
		if !strings.Contains(joined, w) {
			t.Errorf("missing %q in\n%s", w, joined)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event`,
		`<34>Oct 11 22:14:15 mymachine su: 'su root' failed`,
		`Mar  9 08:01:02 web01 sshd[4321]: Failed password`,
		`<13>1 2024-01-01T00:00:00Z h a 1 m [x@1 k="a\"b\]c"][y@2] msg`,
	} {
		f.Add([]byte(s))
	}
	p := &Parser{Clock: fixedClock{time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)}}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := p.Parse(b)
		if err == nil {
			m.Fields(func(string, string) {})
		}
	})
}

// FuzzListenerStream feeds arbitrary bytes through the TCP listener's framing and parsing.
func FuzzListenerStream(f *testing.F) {
	f.Add([]byte("17 <13>1 - - - - - a<13>line one\n12345 not a count\n"))
	f.Add([]byte("99999999 <13>x"))
	f.Add([]byte("<13>first\n12 <34> is not a frame\n5 <13>x\n"))
	f.Add([]byte("<13>Mar  9 08:01:02 h app[1]: x\r\n\x00<14>y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		srv := NewServer(ServerConfig{MaxMessage: 512}, &Parser{}, func(context.Context, Message, netip.Addr) {}, nil)
		srv.ReadStream(strings.NewReader(string(b)), func(m []byte) {
			if len(m) > 512 {
				t.Fatalf("frame of %d bytes exceeds the limit", len(m))
			}
			srv.handle(context.Background(), m, netip.Addr{})
		})
	})
}
