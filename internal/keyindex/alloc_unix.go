//go:build unix

package keyindex

import (
	"syscall"
	"unsafe"
)

// alloc returns n zeroed values of T in memory mapped for it alone,
// outside the Go heap, or on the heap when the kernel refuses. T must
// hold no pointers: the garbage collector does not see this memory.
func alloc[T any](n int) []T {
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	if size == 0 {
		return make([]T, n)
	}
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]T, n)
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}

// free unmaps memory from alloc; heap memory is left to the collector.
func free[T any](s []T) {
	if cap(s) == 0 {
		return
	}
	var zero T
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), cap(s)*int(unsafe.Sizeof(zero)))
	// A heap slice is not a mapping: munmap refuses it (EINVAL), or it
	// unmaps nothing; either way the collector frees it.
	_ = syscall.Munmap(b)
}
