package socbot

import "github.com/google/uuid"

// NewID returns a new time-ordered unique id (UUIDv7) for tenants, tokens, users and alerts.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
