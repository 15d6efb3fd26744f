package evtx

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// chunkBuilder writes BinXML by hand so that the reader has tests that run without the corpus.
type chunkBuilder struct {
	b []byte // whole chunk; offsets are chunk-relative
}

func (c *chunkBuilder) u8(v byte)    { c.b = append(c.b, v) }
func (c *chunkBuilder) u16(v uint16) { c.b = binary.LittleEndian.AppendUint16(c.b, v) }
func (c *chunkBuilder) u32(v uint32) { c.b = binary.LittleEndian.AppendUint32(c.b, v) }
func (c *chunkBuilder) u64(v uint64) { c.b = binary.LittleEndian.AppendUint64(c.b, v) }
func (c *chunkBuilder) utf16(s string) {
	for _, u := range utf16.Encode([]rune(s)) {
		c.u16(u)
	}
}

// name writes an inline name reference (offset pointing at itself, then the name).
func (c *chunkBuilder) name(s string) {
	c.u32(uint32(len(c.b) + 4))
	c.u32(0) // next
	c.u16(0) // hash
	c.u16(uint16(len([]rune(s))))
	c.utf16(s)
	c.u16(0)
}

func (c *chunkBuilder) open(name string, attrs bool) {
	if attrs {
		c.u8(0x41)
	} else {
		c.u8(0x01)
	}
	c.u16(0)
	c.u32(0)
	c.name(name)
	if attrs {
		c.u32(0)
	}
}

func (c *chunkBuilder) text(s string) {
	c.u8(0x05)
	c.u8(0x01)
	c.u16(uint16(len([]rune(s))))
	c.utf16(s)
}

func (c *chunkBuilder) sub(id uint16, typ byte) {
	c.u8(0x0d)
	c.u16(id)
	c.u8(typ)
}

// template writes <Event><System><EventID>%0</EventID><Channel>%1</Channel>
// <TimeCreated SystemTime="%3"/></System><EventData><Data Name="Image">%2</Data>
// <Data Name="Target Name">x&amp;y</Data></EventData></Event>.
func (c *chunkBuilder) template() {
	c.u8(0x0f)
	c.u8(1)
	c.u8(1)
	c.u8(0)
	c.open("Event", false)
	c.u8(0x02)
	c.open("System", false)
	c.u8(0x02)
	c.open("EventID", false)
	c.u8(0x02)
	c.sub(0, 0x06)
	c.u8(0x04)
	c.open("Channel", false)
	c.u8(0x02)
	c.sub(1, 0x01)
	c.u8(0x04)
	c.open("TimeCreated", true)
	c.u8(0x06)
	c.name("SystemTime")
	c.sub(3, 0x11)
	c.u8(0x03)
	c.u8(0x04) // </System>
	c.open("EventData", false)
	c.u8(0x02)
	c.open("Data", true)
	c.u8(0x06)
	c.name("Name")
	c.text("Image")
	c.u8(0x02)
	c.sub(2, 0x01)
	c.u8(0x04)
	c.open("Data", true)
	c.u8(0x06)
	c.name("Name")
	c.text("Target Name")
	c.u8(0x02)
	c.text("x")
	c.u8(0x09)
	c.name("amp")
	c.text("y")
	c.u8(0x04)
	c.u8(0x04) // </EventData>
	c.u8(0x04) // </Event>
	c.u8(0x00)
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// record appends one record; defOff is the template definition offset (0: define it inline).
func (c *chunkBuilder) record(id uint64, eventID uint16, channel, image string, defOff *uint32) {
	start := len(c.b)
	c.b = append(c.b, '*', '*', 0, 0)
	c.u32(0) // size, patched below
	c.u64(id)
	c.u64(132000000000000000 + id*10000000)
	c.u8(0x0f)
	c.u8(1)
	c.u8(1)
	c.u8(0)
	c.u8(0x0c)
	c.u8(0x01)
	c.u32(7) // template id
	if *defOff == 0 {
		*defOff = uint32(len(c.b) + 4)
		c.u32(*defOff)
		c.u32(0)                               // next template
		c.b = append(c.b, make([]byte, 16)...) // GUID
		sizePos := len(c.b)
		c.u32(0)
		bodyStart := len(c.b)
		c.template()
		binary.LittleEndian.PutUint32(c.b[sizePos:], uint32(len(c.b)-bodyStart))
	} else {
		c.u32(*defOff)
	}
	vals := [][]byte{binary.LittleEndian.AppendUint16(nil, eventID), utf16le(channel), utf16le(image), binary.LittleEndian.AppendUint64(nil, 132000000000000000)}
	types := []byte{0x06, 0x01, 0x01, 0x11}
	c.u32(uint32(len(vals)))
	for i, v := range vals {
		c.u16(uint16(len(v)))
		c.u8(types[i])
		c.u8(0)
	}
	for _, v := range vals {
		c.b = append(c.b, v...)
	}
	c.u8(0x00)
	size := len(c.b) - start + 4
	c.u32(uint32(size))
	binary.LittleEndian.PutUint32(c.b[start+4:], uint32(size))
}

// synthFile returns an EVTX file with one chunk of three records sharing one template.
func synthFile() []byte {
	c := &chunkBuilder{b: make([]byte, 512)}
	copy(c.b, "ElfChnk\x00")
	var def uint32
	c.record(1, 1, "Microsoft-Windows-Sysmon/Operational", `C:\Windows\System32\whoami.exe`, &def)
	c.record(2, 11, "Microsoft-Windows-Sysmon/Operational", `C:\Temp\Ünïcode.exe`, &def)
	c.record(3, 4688, "Security", `C:\x.exe`, &def)
	binary.LittleEndian.PutUint32(c.b[48:], uint32(len(c.b))) // free space offset
	chunk := make([]byte, chunkSize)
	copy(chunk, c.b)
	hdr := make([]byte, fileHeaderSize)
	copy(hdr, "ElfFile\x00")
	return append(hdr, chunk...)
}

func TestSyntheticFile(t *testing.T) {
	data := synthFile()
	if *updateGolden {
		os.WriteFile(filepath.Join("testdata", "synthetic.evtx"), data, 0o644)
	}
	rd, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = rd.Records(func(r *Record) error {
		var fs []string
		for _, f := range r.Fields {
			fs = append(fs, f.Name+"="+f.Value)
		}
		got = append(got, strings.Join(fs, "|")+" @"+r.Channel+"/"+r.EventID+" #"+string(rune('0'+r.ID)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`EventID=1|Channel=Microsoft-Windows-Sysmon/Operational|TimeCreated_SystemTime=2019-04-17T18:40:00.0000000Z|Image=C:\Windows\System32\whoami.exe|Target Name=x&y @Microsoft-Windows-Sysmon/Operational/1 #1`,
		`EventID=11|Channel=Microsoft-Windows-Sysmon/Operational|TimeCreated_SystemTime=2019-04-17T18:40:00.0000000Z|Image=C:\Temp\Ünïcode.exe|Target Name=x&y @Microsoft-Windows-Sysmon/Operational/11 #2`,
		`EventID=4688|Channel=Security|TimeCreated_SystemTime=2019-04-17T18:40:00.0000000Z|Image=C:\x.exe|Target Name=x&y @Security/4688 #3`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rd.Stats.Records != 3 || rd.Stats.Templates != 1 || rd.Stats.BadRecords != 0 {
		t.Errorf("stats %+v: want 3 records from 1 compiled template", rd.Stats)
	}
	// the in-memory path gives the same records
	var again []string
	if err := rd.ResetBytes(data); err != nil {
		t.Fatal(err)
	}
	rd.Records(func(r *Record) error { again = append(again, strings.Clone(r.Value("Image"))); return nil })
	if strings.Join(again, "|") != `C:\Windows\System32\whoami.exe|C:\Temp\Ünïcode.exe|C:\x.exe` {
		t.Errorf("ResetBytes: %q", again)
	}
}

func TestTruncatedAndCorrupt(t *testing.T) {
	data := synthFile()
	// corrupt the template body of the first record: the record is counted bad, others survive
	bad := append([]byte(nil), data...)
	for i := fileHeaderSize + 512 + 60; i < fileHeaderSize+512+90; i++ {
		bad[i] = 0xff
	}
	rd, _ := NewReader(bytes.NewReader(bad), int64(len(bad)))
	n := 0
	rd.Records(func(*Record) error { n++; return nil })
	if rd.Stats.BadRecords == 0 {
		t.Errorf("corruption not counted: %+v (%d records)", rd.Stats, n)
	}
	if _, err := NewReader(bytes.NewReader(data[:100]), 100); err == nil {
		t.Error("short file accepted")
	}
	if _, err := NewReader(bytes.NewReader(make([]byte, 8192)), 8192); err == nil {
		t.Error("file without signature accepted")
	}
}

// FuzzReader feeds arbitrary chunk bytes (behind a valid file header) through the reader.
func FuzzReader(f *testing.F) {
	f.Add(bytes.TrimRight(synthFile()[fileHeaderSize:], "\x00"))
	if dir := findCorpus(); dir != "" {
		for _, rel := range []string{"evtx/EVTX-ATTACK-SAMPLES/UACME_59_Sysmon.evtx", "evtx/EVTX-ATTACK-SAMPLES/Defense Evasion/DE_1102_security_log_cleared.evtx"} {
			if d, err := os.ReadFile(filepath.Join(dir, rel)); err == nil && len(d) >= fileHeaderSize+chunkSize {
				f.Add(d[fileHeaderSize : fileHeaderSize+8192]) // header, templates and the first records
			}
		}
	}
	f.Fuzz(func(t *testing.T, chunk []byte) {
		if len(chunk) > chunkSize {
			chunk = chunk[:chunkSize]
		}
		full := make([]byte, fileHeaderSize+chunkSize)
		copy(full, "ElfFile\x00")
		copy(full[fileHeaderSize:], chunk)
		rd, err := NewReader(bytes.NewReader(full), int64(len(full)))
		if err != nil {
			t.Fatal(err)
		}
		rd.Records(func(r *Record) error {
			for _, f := range r.Fields {
				_ = f.Name + f.Value
			}
			return nil
		})
	})
}

func findCorpus() string {
	dir, _ := os.Getwd()
	for i := 0; i < 6; i++ {
		p := filepath.Join(dir, "..", "shared", "corpus", "detection")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		dir = filepath.Dir(dir)
	}
	return ""
}
