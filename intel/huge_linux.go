package intel

import (
	"runtime"
	"syscall"
	"unsafe"
)

// hugeSlice allocates n zeroed elements of a pointer-free type outside the Go heap, in anonymous
// memory advised for transparent huge pages: the match index's tables are read at random, and 2 MB
// pages spare most of the TLB misses that 4 KB pages cost on tables of hundreds of megabytes. Small
// tables, and any failure, fall back to make. owner's finalizer unmaps the memory.
func hugeSlice[T any](owner *Index, n int) []T {
	var zero T
	size := uintptr(n) * unsafe.Sizeof(zero)
	if size < 4<<20 {
		return make([]T, n)
	}
	size = (size + (2<<20 - 1)) &^ (2<<20 - 1)
	mem, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]T, n)
	}
	const madvHugepage = 14
	syscall.Madvise(mem, madvHugepage)
	runtime.AddCleanup(owner, func(m []byte) { syscall.Munmap(m) }, mem)
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[0])), n)
}
