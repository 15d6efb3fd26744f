// Package evtx reads Windows XML event log files (.evtx) fast: each chunk's BinXML templates are
// compiled once into a small program that says which substitution fills which field, and every
// record of the chunk only decodes its substitution values. Records come out as flat fields with
// the names Sigma rules use (EventData/UserData fields by name, System fields by element name, System
// attributes as Element_Attribute such as Provider_Name), not as XML.
//
// The format is described by Microsoft's [MS-EVEN6] BinXML documentation and by the libevtx notes.
// Malformed chunks and records are counted and skipped; a parse never panics on bad input.
package evtx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unsafe"

	socbot "github.com/socbot/socbot"
)

// Section says which part of the event a field comes from.
type Section uint8

// Sections.
const (
	SectionOther Section = iota
	SectionSystem
	SectionEventData
	SectionUserData
)

// Field is one flattened value of a record. Name and Value are valid until the next record.
type Field struct {
	Name    string
	Value   string
	Section Section
}

// Record is one event record.
type Record struct {
	ID      uint64
	Written time.Time // record header time
	Fields  []Field

	Channel string
	EventID string
	Time    time.Time // System/TimeCreated, or Written when absent
}

// Value returns the first value of the named field ("" if absent).
func (r *Record) Value(name string) string {
	for i := range r.Fields {
		if r.Fields[i].Name == name {
			return r.Fields[i].Value
		}
	}
	return ""
}

// Stats counts what a reader saw.
type Stats struct {
	Chunks     int `json:"chunks"`
	BadChunks  int `json:"bad_chunks"`
	Records    int `json:"records"`
	BadRecords int `json:"bad_records"`
	Templates  int `json:"templates_compiled"`
}

const (
	fileHeaderSize = 4096
	chunkSize      = 65536
)

// ErrNotEVTX is returned for data that does not start with the EVTX file signature.
var ErrNotEVTX = errors.New("not an EVTX file")

// Reader reads records chunk by chunk from an io.ReaderAt. It reuses its buffers: a Record handed to
// the callback is valid only during the callback. A Reader is not safe for concurrent use.
type Reader struct {
	r     io.ReaderAt
	size  int64
	buf   []byte
	data  []byte // whole file in memory (ResetBytes), else nil
	Stats Stats

	c      chunk
	rec    Record
	arena  []byte
	budget int // work left for the current record (fields plus nested fragments)
}

// maxRecordWork bounds the fields and nested fragments one record may produce.
const maxRecordWork = 1 << 16

// NewReader checks the file header and returns a reader.
func NewReader(r io.ReaderAt, size int64) (*Reader, error) {
	rd := &Reader{buf: make([]byte, chunkSize)}
	if err := rd.Reset(r, size); err != nil {
		return nil, err
	}
	return rd, nil
}

// Reset points the reader at another file, keeping its buffers (no allocation per file).
func (rd *Reader) Reset(r io.ReaderAt, size int64) error {
	var hdr [8]byte
	if size < fileHeaderSize {
		return socbot.E("evtx.NewReader", socbot.KindUnsupported, ErrNotEVTX)
	}
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return socbot.E("evtx.NewReader", err)
	}
	if string(hdr[:]) != "ElfFile\x00" {
		return socbot.E("evtx.NewReader", socbot.KindUnsupported, ErrNotEVTX)
	}
	rd.r, rd.size, rd.data, rd.Stats = r, size, nil, Stats{}
	if rd.buf == nil {
		rd.buf = make([]byte, chunkSize)
	}
	return nil
}

// Open opens an EVTX file. Close the returned file when done.
func Open(path string) (*Reader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, socbot.E("evtx.Open", socbot.KindNotFound, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, socbot.E("evtx.Open", err)
	}
	r, err := NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, socbot.E("evtx.Open", path, err)
	}
	return r, f, nil
}

// IsEVTX reports whether the first bytes are the EVTX signature.
func IsEVTX(head []byte) bool { return len(head) >= 8 && string(head[:8]) == "ElfFile\x00" }

// Records calls fn for every record in file order. An error from fn stops the walk and is returned.
func (rd *Reader) Records(fn func(*Record) error) error {
	for off := int64(fileHeaderSize); off+chunkSize <= rd.size; off += chunkSize {
		var b []byte
		if rd.data != nil {
			b = rd.data[off : off+chunkSize]
		} else {
			// the header first: only the used part of the chunk (up to its free space offset) is read
			n, err := rd.r.ReadAt(rd.buf[:512], off)
			if n < 512 {
				if err == nil || err == io.EOF {
					break
				}
				return socbot.E("evtx.Records", err)
			}
			used := int(binary.LittleEndian.Uint32(rd.buf[48:]))
			if used < 512 || used > chunkSize {
				used = chunkSize
			}
			n, err = rd.r.ReadAt(rd.buf[512:used], off+512)
			if n < used-512 {
				if err == nil || err == io.EOF {
					break
				}
				return socbot.E("evtx.Records", err)
			}
			b = rd.buf[:used]
		}
		if string(b[:8]) != "ElfChnk\x00" {
			if allZero(b[:8]) {
				continue // unused chunk
			}
			rd.Stats.BadChunks++
			continue
		}
		rd.Stats.Chunks++
		if err := rd.chunkRecords(b, fn); err != nil {
			return err
		}
	}
	return nil
}

// ResetBytes points the reader at a whole file held in memory; chunks are parsed in place.
func (rd *Reader) ResetBytes(data []byte) error {
	if len(data) < fileHeaderSize || string(data[:8]) != "ElfFile\x00" {
		return socbot.E("evtx.NewReader", socbot.KindUnsupported, ErrNotEVTX)
	}
	rd.r, rd.size, rd.data, rd.Stats = nil, int64(len(data)), data, Stats{}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (rd *Reader) chunkRecords(b []byte, fn func(*Record) error) error {
	rd.c.reset(b)
	free := int(binary.LittleEndian.Uint32(b[48:]))
	if free > len(b) || free < 512 {
		free = len(b)
	}
	for pos := 512; pos+24 <= free; {
		if binary.LittleEndian.Uint32(b[pos:]) != 0x00002a2a {
			break
		}
		size := int(binary.LittleEndian.Uint32(b[pos+4:]))
		if size < 28 || pos+size > len(b) {
			rd.Stats.BadRecords++
			break
		}
		rec := &rd.rec
		rec.ID = binary.LittleEndian.Uint64(b[pos+8:])
		rec.Written = filetime(binary.LittleEndian.Uint64(b[pos+16:]))
		rec.Fields = rec.Fields[:0]
		rec.Channel, rec.EventID, rec.Time = "", "", time.Time{}
		rd.arena = rd.arena[:0]
		rd.budget = maxRecordWork
		ok := rd.c.parseFragment(pos+24, pos+size-4, SectionOther, rd, 0)
		if !ok {
			rd.Stats.BadRecords++
			pos += size
			continue
		}
		for i := range rec.Fields {
			f := &rec.Fields[i]
			if f.Section == SectionSystem {
				switch f.Name {
				case "Channel":
					rec.Channel = f.Value
				case "EventID":
					rec.EventID = f.Value
				case "TimeCreated_SystemTime":
					if rec.Time.IsZero() { // set directly when the value was a FILETIME
						if t, err := time.Parse(time.RFC3339Nano, f.Value); err == nil {
							rec.Time = t
						}
					}
				}
			}
		}
		if rec.Time.IsZero() {
			rec.Time = rec.Written
		}
		rd.Stats.Records++
		if err := fn(rec); err != nil {
			return err
		}
		pos += size
	}
	rd.Stats.Templates += len(rd.c.templates)
	return nil
}

// emit appends a field whose value bytes are in the arena.
func (rd *Reader) emit(name string, sec Section, start int) {
	v := rd.arena[start:]
	rd.rec.Fields = append(rd.rec.Fields, Field{Name: name, Value: unsafe.String(unsafe.SliceData(v), len(v)), Section: sec})
}

func filetime(ft uint64) time.Time {
	if ft == 0 {
		return time.Time{}
	}
	const epochDiff = 116444736000000000 // 1601 -> 1970 in 100ns
	if ft < epochDiff {
		return time.Time{}
	}
	d := ft - epochDiff
	return time.Unix(int64(d/10000000), int64(d%10000000)*100).UTC()
}

// ReadFile reads every record of an EVTX file (convenience for tools and tests).
func ReadFile(path string, fn func(*Record) error) (Stats, error) {
	rd, f, err := Open(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	err = rd.Records(fn)
	return rd.Stats, err
}

var errShort = fmt.Errorf("evtx: truncated data")
