// Package socbot holds the domain types and service interfaces shared by every bot and adapter.
package socbot
