package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestSendMailWithAttachment(t *testing.T) {
	box, host, port := startSMTP(t)
	pdf := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 500)...)
	cfg := SMTPConfig{Host: host, Port: port, From: "SOC <soc@mssp.example>", TLS: "none"}
	err := SendMail(context.Background(), cfg, 5*time.Second, Mail{To: []string{"CISO <ciso@acme.example>"}, Subject: "acme report 2026-10 ✓",
		Text: "attached\n", Attachments: []Attachment{{Name: "acme-2026-10.pdf", ContentType: "application/pdf", Data: pdf}}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(box.messages) != 1 || box.messages[0].to[0] != "ciso@acme.example" {
		t.Fatalf("messages: %+v", box.messages)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(box.messages[0].data))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subj != "acme report 2026-10 ✓" {
		t.Fatalf("subject %q", subj)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var got []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.FileName() == "acme-2026-10.pdf" {
			got, _ = io.ReadAll(p) // multipart decodes quoted-printable only; decode base64 by hand
		}
	}
	if got == nil {
		t.Fatal("no attachment")
	}
	dec, err := decodeB64(string(got))
	if err != nil || !bytes.Equal(dec, pdf) {
		t.Fatalf("attachment differs (%v)", err)
	}
	// No relay configured, or a refusal: an error, never silence.
	if err := SendMail(context.Background(), SMTPConfig{}, time.Second, Mail{To: []string{"a@b.example"}}, time.Now()); err == nil || !strings.Contains(err.Error(), "smtp.host") {
		t.Fatalf("no relay: %v", err)
	}
	box.reject.Store(1)
	if err := SendMail(context.Background(), cfg, 5*time.Second, Mail{To: []string{"ciso@acme.example"}, Subject: "x"}, time.Now()); err == nil {
		t.Fatal("a 451 was not reported")
	}
}

func decodeB64(s string) ([]byte, error) {
	return base64Decode(strings.NewReplacer("\r", "", "\n", "").Replace(s))
}
func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
