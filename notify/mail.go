package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	socbot "github.com/socbot/socbot"
)

// sendMail delivers the notice by SMTP: multipart/alternative with a plain-text and an HTML part.
func (d *Dispatcher) sendMail(ctx context.Context, ch socbot.Channel, n socbot.Notification, m message) error {
	return deliver(ctx, d.cfg.SMTP, d.cfg.Timeout, strings.Split(ch.Target, ","), func(from *mail.Address, to []string) []byte {
		return buildMail(from, to, n, m, d.clock.Now())
	})
}

// deliver runs one SMTP exchange with the relay of cfg: connect (TLS, or STARTTLS when offered or
// required), authenticate if configured, and send the message build writes for the parsed sender and
// recipients. Errors that retrying cannot fix (bad addresses, refused authentication, 5xx replies) are
// permanent.
func deliver(ctx context.Context, cfg SMTPConfig, timeout time.Duration, recipients []string, build func(from *mail.Address, to []string) []byte) error {
	if cfg.Host == "" {
		return fmt.Errorf("no SMTP server configured (smtp.host)")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return permanent{fmt.Errorf("smtp.from %q is not an address", cfg.From)}
	}
	var to []string
	for _, a := range recipients {
		addr, err := mail.ParseAddress(strings.TrimSpace(a))
		if err != nil {
			return permanent{fmt.Errorf("recipient %q is not an address", a)}
		}
		to = append(to, addr.Address)
	}
	if len(to) == 0 {
		return permanent{fmt.Errorf("no recipients")}
	}
	port := cfg.Port
	if port == 0 {
		port = map[string]int{"tls": 465, "starttls": 587}[cfg.TLS]
		if port == 0 {
			port = 25
		}
	}
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	dialer := &net.Dialer{Timeout: timeout}
	var conn net.Conn
	if cfg.TLS == "tls" {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	hello := cfg.Hello
	if hello == "" {
		hello = "socbot"
	}
	if err := c.Hello(hello); err != nil {
		return err
	}
	if cfg.TLS != "none" && cfg.TLS != "tls" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(&tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}); err != nil {
				return err
			}
		} else if cfg.TLS == "starttls" {
			return fmt.Errorf("SMTP server %s does not offer STARTTLS", addr)
		}
	}
	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return permanent{fmt.Errorf("SMTP authentication: %w", err)}
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return smtpErr(err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return smtpErr(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(build(from, to)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return smtpErr(err)
	}
	return c.Quit()
}

// smtpErr makes 5xx replies (mailbox unknown, policy refusal) permanent and leaves 4xx to retry.
func smtpErr(err error) error {
	if strings.HasPrefix(err.Error(), "5") {
		return permanent{err}
	}
	return err
}

func buildMail(from *mail.Address, to []string, n socbot.Notification, m message, now time.Time) []byte {
	var b bytes.Buffer
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	boundary := "socbot-" + hex.EncodeToString(rnd[:])
	host := "socbot"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		host = from.Address[i+1:]
	}
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	hdr("To", strings.Join(to, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", fmt.Sprintf("<notice-%d.%s@%s>", n.ID, hex.EncodeToString(rnd[:4]), host))
	if m.Incident.ID != 0 {
		// Thread every notice about one incident together in the client's mailbox.
		ref := fmt.Sprintf("<incident-%s-%d@%s>", n.TenantID, m.Incident.ID, host)
		hdr("References", ref)
		hdr("In-Reply-To", ref)
	}
	hdr("X-Socbot-Event", m.Event)
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary, part.typ)
		qp := quotedprintable.NewWriter(&b)
		_, _ = qp.Write([]byte(strings.ReplaceAll(part.body, "\n", "\r\n")))
		_ = qp.Close()
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}
