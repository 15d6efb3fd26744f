//go:build !linux

package intel

// hugeSlice allocates n elements; only Linux backs big tables with huge pages.
func hugeSlice[T any](owner *Index, n int) []T { return make([]T, n) }
