//go:build !amd64 && !arm64

package intel

// prefetch is a no-op where there is no prefetch instruction wired; batches then rely on the
// processor's own reordering.
func prefetch(addr uintptr) {}
