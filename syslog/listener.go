package syslog

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	socbot "github.com/socbot/socbot"
)

// Handler receives each parsed message with the sender's address. It is called from the listener's
// goroutines (one per TCP connection, a bounded pool for UDP); a slow handler slows the TCP sender
// down (back-pressure) and makes the UDP listener drop (counted).
type Handler func(ctx context.Context, m Message, from netip.Addr)

// ServerConfig bounds a listener.
type ServerConfig struct {
	MaxMessage  int           // bytes, default MaxMessage
	MaxConns    int           // concurrent TCP connections, default 256
	IdleTimeout time.Duration // TCP read idle timeout, default 5m
	UDPQueue    int           // parsed UDP messages waiting for the handler, default 4096
}

// Counters of a listener.
type Counters struct {
	Received  atomic.Int64
	Malformed atomic.Int64
	Dropped   atomic.Int64
	Refused   atomic.Int64
}

// Server runs syslog listeners.
type Server struct {
	cfg    ServerConfig
	parser *Parser
	log    *slog.Logger
	h      Handler
	Stats  Counters
}

// NewServer returns a server that parses with p and hands messages to h.
func NewServer(cfg ServerConfig, p *Parser, h Handler, log *slog.Logger) *Server {
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = MaxMessage
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 256
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.UDPQueue <= 0 {
		cfg.UDPQueue = 4096
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, parser: p, log: log, h: h}
}

func (s *Server) handle(ctx context.Context, b []byte, from netip.Addr) {
	m, err := s.parser.Parse(b)
	if err != nil {
		s.Stats.Malformed.Add(1)
		return
	}
	s.Stats.Received.Add(1)
	s.h(ctx, m, from)
}

// ServeUDP reads datagrams from pc until ctx ends. Each datagram is one message.
func (s *Server) ServeUDP(ctx context.Context, pc net.PacketConn) error {
	type item struct {
		m    Message
		from netip.Addr
	}
	q := make(chan item, s.cfg.UDPQueue)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for it := range q {
			s.h(ctx, it.m, it.from)
		}
	}()
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	buf := make([]byte, s.cfg.MaxMessage)
	var err error
	for {
		n, addr, rerr := pc.ReadFrom(buf)
		if rerr != nil {
			if ctx.Err() == nil && !errors.Is(rerr, net.ErrClosed) {
				err = socbot.E("syslog.ServeUDP", socbot.KindUnavailable, rerr)
			}
			break
		}
		m, perr := s.parser.Parse(buf[:n])
		if perr != nil {
			s.Stats.Malformed.Add(1)
			continue
		}
		s.Stats.Received.Add(1)
		var from netip.Addr
		if ua, ok := addr.(*net.UDPAddr); ok {
			from = ua.AddrPort().Addr().Unmap()
		}
		select {
		case q <- item{m, from}:
		default:
			s.Stats.Dropped.Add(1)
		}
	}
	close(q)
	wg.Wait()
	return err
}

// ServeTCP accepts connections from l until ctx ends.
func (s *Server) ServeTCP(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	sem := make(chan struct{}, s.cfg.MaxConns)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return socbot.E("syslog.ServeTCP", socbot.KindUnavailable, err)
		}
		select {
		case sem <- struct{}{}:
		default:
			s.Stats.Refused.Add(1)
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer c.Close()
			cstop := context.AfterFunc(ctx, func() { c.Close() })
			defer cstop()
			var from netip.Addr
			if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
				from = ta.AddrPort().Addr().Unmap()
			}
			dr := &deadlineReader{c: c, d: s.cfg.IdleTimeout}
			err := s.ReadStream(dr, func(b []byte) { s.handle(ctx, b, from) })
			if err != nil && ctx.Err() == nil {
				s.log.Debug("syslog connection ended", "from", from.String(), "err", err)
			}
		}()
	}
}

type deadlineReader struct {
	c net.Conn
	d time.Duration
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	r.c.SetReadDeadline(time.Now().Add(r.d))
	return r.c.Read(p)
}

// Framing of a TCP connection (RFC 6587): octet counting or newline-terminated lines. A connection
// keeps the framing its first message used.
const (
	frameUnknown = iota
	frameOctet
	frameLine
)

// ReadStream splits a TCP stream into messages. The first message decides the connection's framing:
// RFC 6587 octet counting when it is "LEN SP <PRI>..." (1 to 8 digits, a space, then a valid PRI:
// '<', 1 to 3 digits, '>'), newline framing otherwise. A newline-framed connection never reads a
// count again, so a later line such as "12 <34> was seen" stays a line; an octet-counted connection
// takes a frame that does not start with a count as a line. Frames longer than MaxMessage are
// truncated (octet counting) or cut at the limit (newline framing) and counted as malformed.
func (s *Server) ReadStream(r io.Reader, fn func([]byte)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	max := s.cfg.MaxMessage
	buf := make([]byte, 0, 1024)
	mode := frameUnknown
	for {
		c, err := br.ReadByte()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if c == '\n' || c == '\r' || c == 0 {
			continue
		}
		buf = append(buf[:0], c)
		if mode != frameLine && c >= '1' && c <= '9' {
			// maybe a count: up to 8 digits, a space and a PRI
			n := int(c - '0')
			for len(buf) <= 8 {
				d, err := br.ReadByte()
				if err != nil {
					fn(buf)
					if err == io.EOF {
						return nil
					}
					return err
				}
				if d >= '0' && d <= '9' && len(buf) < 8 {
					n = n*10 + int(d-'0')
					buf = append(buf, d)
					continue
				}
				if d == ' ' && startsWithPRI(br, n) {
					mode = frameOctet
					take := n
					if take > max {
						take = max
						s.Stats.Malformed.Add(1)
					}
					if cap(buf) < take {
						buf = make([]byte, 0, take)
					}
					buf = buf[:take]
					if _, err := io.ReadFull(br, buf); err != nil {
						return err
					}
					if n > take {
						if _, err := br.Discard(n - take); err != nil {
							return err
						}
					}
					fn(buf)
					goto next
				}
				// not a count: a line that starts with digits
				if d == '\n' {
					fn(buf)
					goto next
				}
				buf = append(buf, d)
				break
			}
		}
		if mode == frameUnknown {
			mode = frameLine
		}
		if err := s.readLine(br, &buf, fn); err != nil {
			return err
		}
	next:
	}
}

// startsWithPRI reports whether the next bytes of br (at most n of them: the frame) are a syslog PRI,
// '<' and 1 to 3 digits and '>', without consuming them.
func startsWithPRI(br *bufio.Reader, n int) bool {
	k := min(n, 5)
	if k < 3 {
		return false
	}
	b, _ := br.Peek(k)
	if len(b) < 3 || b[0] != '<' {
		return false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '>':
			return i > 1
		case c < '0' || c > '9':
			return false
		}
	}
	return false
}

func (s *Server) readLine(br *bufio.Reader, buf *[]byte, fn func([]byte)) error {
	for {
		line, err := br.ReadSlice('\n')
		room := s.cfg.MaxMessage - len(*buf)
		if room > 0 {
			take := line
			if len(take) > room {
				take = take[:room]
			}
			*buf = append(*buf, take...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		b := *buf
		if len(b) > 0 && b[len(b)-1] == '\n' {
			b = b[:len(b)-1]
		}
		if len(b) > 0 {
			fn(b)
		}
		if err == io.EOF {
			return nil
		}
		return err
	}
}
