package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
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
)

// Attachment is a file sent with a mail.
type Attachment struct {
	Name        string // file name shown to the recipient
	ContentType string // e.g. application/pdf
	Data        []byte
}

// Mail is one message with attachments (the report bot's monthly PDF).
type Mail struct {
	To          []string
	Subject     string
	Text        string
	Attachments []Attachment
}

// SendMail delivers m through the SMTP relay of cfg: multipart/mixed with a plain-text part and each
// attachment base64-encoded. It returns only once the relay accepted the message.
func SendMail(ctx context.Context, cfg SMTPConfig, timeout time.Duration, m Mail, now time.Time) error {
	if cfg.Host == "" {
		return fmt.Errorf("no SMTP server configured (smtp.host)")
	}
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return fmt.Errorf("smtp.from %q is not an address", cfg.From)
	}
	var to []string
	for _, a := range m.To {
		addr, err := mail.ParseAddress(strings.TrimSpace(a))
		if err != nil {
			return fmt.Errorf("recipient %q is not an address", a)
		}
		to = append(to, addr.Address)
	}
	if len(to) == 0 {
		return fmt.Errorf("no recipients")
	}
	port := cfg.Port
	if port == 0 {
		port = map[string]int{"tls": 465, "starttls": 587}[cfg.TLS]
		if port == 0 {
			port = 25
		}
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
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
			return fmt.Errorf("SMTP authentication: %w", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(buildMixed(from, to, m, now)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func buildMixed(from *mail.Address, to []string, m Mail, now time.Time) []byte {
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
	hdr("Message-ID", fmt.Sprintf("<report-%s@%s>", hex.EncodeToString(rnd[:8]), host))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary)
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(m.Text, "\n", "\r\n")))
	_ = qp.Close()
	b.WriteString("\r\n")
	for _, a := range m.Attachments {
		name := mime.QEncoding.Encode("utf-8", a.Name)
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"%s\"\r\n\r\n",
			boundary, a.ContentType, name, name)
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteString("\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}
