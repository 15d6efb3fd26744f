package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	socbot "github.com/socbot/socbot"
)

// Signature headers of generic webhooks. The receiver recomputes
// hex(HMAC-SHA256(secret, timestamp + "." + body)) and compares it with X-Socbot-Signature
// (after "sha256="), and rejects timestamps too far from its clock to stop replays.
const (
	HeaderSignature = "X-Socbot-Signature"
	HeaderTimestamp = "X-Socbot-Timestamp"
	HeaderEvent     = "X-Socbot-Event"
	HeaderDelivery  = "X-Socbot-Delivery"
)

// Sign returns the X-Socbot-Signature value for a body sent at unix time ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature in constant time.
func Verify(secret string, ts int64, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature))
}

func (d *Dispatcher) postSigned(ctx context.Context, ch socbot.Channel, n socbot.Notification, b socbot.NotificationBody) error {
	payload := mustJSON(b)
	ts := d.clock.Now().Unix()
	return d.post(ctx, ch.Target, payload, map[string]string{
		HeaderSignature: Sign(ch.Secret, ts, payload),
		HeaderTimestamp: strconv.FormatInt(ts, 10),
		HeaderEvent:     b.Event,
		HeaderDelivery:  fmt.Sprintf("%d", n.ID),
	})
}
