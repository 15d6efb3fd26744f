// Package rss reads RSS 2.0, RSS 1.0 (RDF) and Atom feeds of advisories and social posts (vendor
// blogs, Mastodon accounts) and turns the IOCs written in each post into items linked to the post:
// the post's link is the item's Ref and its title the description. The XML is read token by token,
// one post at a time.
package rss

import (
	"context"
	"encoding/xml"
	"html"
	"io"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/feeds/csvmap"
	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/ioc"
)

// Post is one feed entry.
type Post struct {
	Title     string
	Link      string
	ID        string
	Published time.Time
	Text      string // description, summary and content, tags stripped
	Tags      []string
}

// Options controls extraction.
type Options struct {
	// Types restricts the extracted IOC types (default: every type but CVE and ATT&CK technique ids,
	// which advisories mention without being indicators of compromise).
	Types []ioc.Type
	// Confidence of the extracted items (default 40: extracted from prose, not curated).
	Confidence int
}

// OptionsFrom reads feed options: "types" (comma list), "confidence".
func OptionsFrom(o map[string]string) Options {
	var op Options
	if ts := o["types"]; ts != "" {
		for _, t := range strings.Split(ts, ",") {
			op.Types = append(op.Types, ioc.Type(strings.TrimSpace(t)))
		}
	}
	if c := o["confidence"]; c != "" {
		var n int
		for _, ch := range c {
			if ch >= '0' && ch <= '9' {
				n = n*10 + int(ch-'0')
			}
		}
		op.Confidence = n
	}
	return op
}

// Posts streams the posts of an RSS or Atom document to fn.
func Posts(ctx context.Context, r io.Reader, fn func(*Post) error) error {
	const op = "rss.Posts"
	dec := xml.NewDecoder(r)
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	var cur *Post
	var text strings.Builder
	var field string
	depth := 0
	sawRoot := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		tok, err := dec.Token()
		if err == io.EOF {
			if !sawRoot {
				return socbot.E(op, socbot.KindInvalid, "not an RSS or Atom feed")
			}
			return nil
		}
		if err != nil {
			return socbot.E(op, socbot.KindInvalid, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			name := strings.ToLower(t.Name.Local)
			if !sawRoot {
				if name != "rss" && name != "feed" && name != "rdf" {
					return socbot.E(op, socbot.KindInvalid, "root element <"+name+"> is not rss, feed or rdf")
				}
				sawRoot = true
				continue
			}
			if name == "item" || name == "entry" {
				cur = &Post{}
				continue
			}
			if cur == nil {
				continue
			}
			switch name {
			case "title", "description", "summary", "content", "encoded", "pubdate", "published", "updated", "date", "guid", "id", "category":
				field = name
				text.Reset()
			case "link":
				field = "link"
				text.Reset()
				for _, a := range t.Attr {
					if a.Name.Local == "href" && (cur.Link == "" || attr(t, "rel") == "alternate" || attr(t, "rel") == "") {
						cur.Link = a.Value
					}
				}
			}
			if name == "category" {
				if term := attr(t, "term"); term != "" {
					cur.Tags = append(cur.Tags, term)
				}
			}
		case xml.CharData:
			if cur != nil && field != "" {
				text.Write(t)
			}
		case xml.EndElement:
			depth--
			name := strings.ToLower(t.Name.Local)
			if cur == nil {
				continue
			}
			if name == "item" || name == "entry" {
				cur.Text = strings.TrimSpace(cur.Text)
				if err := fn(cur); err != nil {
					return err
				}
				cur = nil
				field = ""
				continue
			}
			if field == "" || name != field {
				continue
			}
			v := strings.TrimSpace(text.String())
			switch field {
			case "title":
				cur.Title = stripTags(v)
			case "description", "summary", "content", "encoded":
				cur.Text += "\n" + stripTags(v)
			case "link":
				if v != "" && cur.Link == "" {
					cur.Link = v
				}
			case "guid", "id":
				cur.ID = v
			case "pubdate", "published", "updated", "date":
				if ts := parseDate(v); !ts.IsZero() && (cur.Published.IsZero() || field != "updated") {
					cur.Published = ts
				}
			case "category":
				if v != "" {
					cur.Tags = append(cur.Tags, v)
				}
			}
			field = ""
		}
	}
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func parseDate(s string) time.Time {
	for _, l := range []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 MST", time.RFC3339Nano} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return csvmap.ParseTime(s, "")
}

// stripTags turns HTML into text: tags become spaces, entities are decoded.
func stripTags(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<':
			in = true
			b.WriteByte(' ')
		case c == '>' && in:
			in = false
		case !in:
			b.WriteByte(c)
		}
	}
	return html.UnescapeString(b.String())
}

// Parse streams a feed and emits the IOCs of every post as items linked to it.
func Parse(ctx context.Context, opts Options, r io.Reader, emit func(intel.Item) error) error {
	types := opts.Types
	if len(types) == 0 {
		types = []ioc.Type{ioc.IPv4, ioc.IPv6, ioc.CIDR, ioc.Domain, ioc.URL, ioc.Email, ioc.MD5, ioc.SHA1, ioc.SHA256, ioc.SHA512}
	}
	conf := opts.Confidence
	if conf <= 0 {
		conf = 40
	}
	ex := ioc.New(ioc.Options{Types: types})
	return Posts(ctx, r, func(p *Post) error {
		ref := p.Link
		if ref == "" {
			ref = p.ID
		}
		seen := map[string]bool{}
		var err error
		ex.Extract([]byte(p.Title+"\n"+p.Text), func(i ioc.IOC) {
			k := string(i.Type) + i.Value
			if err != nil || seen[k] {
				return
			}
			seen[k] = true
			err = emit(intel.Item{Type: i.Type, Value: i.Value, Confidence: conf, LastSeen: p.Published, FirstSeen: p.Published,
				Ref: ref, Description: p.Title, Tags: append([]string{"rss"}, p.Tags...)})
		})
		return err
	})
}
