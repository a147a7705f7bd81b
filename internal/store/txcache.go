package store

import (
	"context"
	"database/sql"
)

// sqlTx is what the write helpers need of a transaction: *sql.Tx has it,
// and so has cachedTx.
type sqlTx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// cachedTx prepares each distinct statement once per transaction. A batch
// of fetches runs the same dozen statements for every fetch; preparing
// them each time was a large part of an all-304 pass, where a fetch's only
// write is its state. Statements from PrepareContext belong to the cache:
// callers must not close them.
type cachedTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func newCachedTx(tx *sql.Tx) *cachedTx {
	return &cachedTx{tx: tx, stmts: make(map[string]*sql.Stmt)}
}

// PrepareContext returns the transaction's statement for query, preparing
// it on first use.
func (c *cachedTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

func (c *cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (c *cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c *cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		// sql.Row has no constructor for an error; the plain call fails
		// the same way and carries it.
		return c.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// close releases the statements; the transaction stays open.
func (c *cachedTx) close() {
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
}
