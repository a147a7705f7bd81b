package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite's page cache allocates each cached page on its own, and in WAL
// mode a connection empties its cache at the start of every read
// transaction that follows another connection's commit: while the writer
// commits, every prepare and KnownItems read starts cold and frees and
// reallocates its pages. With 16 KB pages, each page plus its header is
// just over the largest slot of modernc.org/memory (the C allocator under
// modernc.org/sqlite), so it takes a 32 KB mapping of its own, which the
// allocator hands back to the kernel (madvise) once more than 4 MiB of
// them are free, and which faults back in, zeroed, when reused. A
// 10,000-source ingest spent 2-2.5 s of CPU in those madvise calls alone.
//
// SQLITE_CONFIG_PAGECACHE gives SQLite one buffer of fixed-size page
// slots instead, shared by every connection of the process: a page freed
// at a cache reset goes back to the slot list and is reused as it is.
// When the slots run out, SQLite allocates pages as before, so the count
// only has to cover the usual case: the writer's cache (at most
// writerCacheMax), the readers' (1 MB each), the checkpointer's and a
// margin for a writer that holds more dirty pages than its cache. Slots
// go to whichever connection asks first, so a writer cache left out of the
// count would take the readers' slots and bring their churn back.
//
// The slots are sized for pageSize; a database with larger pages (one
// made elsewhere) simply does not use them. The memory is reserved, not
// used: SQLite writes only a link at the start of each slot until a page
// lands in it, which makes one 4 KB memory page of each slot resident
// (10 MB for the 2,560 slots).
const (
	pageSlots = writerCacheMax/pageSize + readers*(1<<20)/pageSize + 256
	// pageSlotExtra covers SQLite's per-page header (PgHdr1, PgHdr and
	// the b-tree's MemPage, about 300 bytes).
	pageSlotExtra = 512
)

var (
	pageCacheOnce sync.Once
	pageCacheErr  error
)

// configurePageCache installs the page slots if no SQLite connection of
// this process has been opened yet; only its first call does anything,
// and every call returns its outcome. SQLite refuses the setting after
// its initialization, and then keeps allocating pages one by one, which
// is correct, only slower.
func configurePageCache() error {
	pageCacheOnce.Do(func() { pageCacheErr = installPageCache() })
	return pageCacheErr
}

func installPageCache() error {
	tls := libc.NewTLS()
	defer tls.Close()
	slot := pageSize + pageSlotExtra
	buf := libc.Xmalloc(tls, types.Size_t(slot*pageSlots))
	if buf == 0 {
		return fmt.Errorf("configure page cache: out of memory for %d slots", pageSlots)
	}
	va := libc.Xmalloc(tls, types.Size_t(3*unsafe.Sizeof(uint64(0))))
	if va == 0 {
		libc.Xfree(tls, buf)
		return errors.New("configure page cache: out of memory")
	}
	defer libc.Xfree(tls, va)
	rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PAGECACHE, libc.VaList(va, buf, int32(slot), int32(pageSlots)))
	if rc != sqlite3.SQLITE_OK {
		libc.Xfree(tls, buf)
		return fmt.Errorf("configure page cache: sqlite3_config returned %d (a connection was opened before)", rc)
	}
	return nil
}

// pageCacheStats reports the page slots in use now and at most, and the
// bytes of pages SQLite had to allocate outside them at most.
func pageCacheStats() (used, usedMax, overflowMax int64) {
	tls := libc.NewTLS()
	defer tls.Close()
	p := libc.Xmalloc(tls, types.Size_t(2*unsafe.Sizeof(int64(0))))
	if p == 0 {
		return 0, 0, 0
	}
	defer libc.Xfree(tls, p)
	high := p + unsafe.Sizeof(int64(0))
	read := func(op int32) (int64, int64) {
		sqlite3.Xsqlite3_status64(tls, op, p, high, 0)
		b := libc.GoBytes(p, 16)
		return int64(binary.NativeEndian.Uint64(b)), int64(binary.NativeEndian.Uint64(b[8:]))
	}
	used, usedMax = read(sqlite3.SQLITE_STATUS_PAGECACHE_USED)
	_, overflowMax = read(sqlite3.SQLITE_STATUS_PAGECACHE_OVERFLOW)
	return used, usedMax, overflowMax
}
