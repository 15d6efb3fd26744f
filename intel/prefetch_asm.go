//go:build amd64 || arm64

package intel

// prefetch asks the processor to bring the cache line at addr into the caches without waiting for
// it (PREFETCHT0 on amd64, PRFM PLDL1KEEP on arm64): a batch issues the loads of many lookups this
// way, so that they overlap. It never faults.
//
//go:noescape
func prefetch(addr uintptr)
