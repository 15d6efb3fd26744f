package socbot

import "time"

// Clock tells the time. It is passed in everywhere time matters so that tests control it.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real wall clock.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

var _ Clock = SystemClock{}
