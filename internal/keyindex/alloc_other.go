//go:build !unix

package keyindex

// alloc returns n zeroed values of T on the heap: without mmap, the index
// stays inside it.
func alloc[T any](n int) []T { return make([]T, n) }

// free leaves s to the garbage collector.
func free[T any](s []T) {}
