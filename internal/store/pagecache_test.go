package store

import (
	"context"
	"os"
	"testing"
)

// TestMain installs the page slots before any test opens a connection,
// as Open does in syndic, where the store opens the first one.
func TestMain(m *testing.M) {
	if err := configurePageCache(); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// TestPageSlotsUsed: SQLite took the slots, and pages of a store's
// connections land in them.
func TestPageSlotsUsed(t *testing.T) {
	if err := configurePageCache(); err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	mustSave(t, s, update("s", t0, newItem("s", "1", "A headline", t0)))
	if _, err := s.ItemCount(context.Background()); err != nil {
		t.Fatal(err)
	}
	used, usedMax, _ := pageCacheStats()
	if usedMax == 0 {
		t.Errorf("page slots: %d in use, %d at most; want SQLite to use them", used, usedMax)
	}
}
