package store

import (
	"context"
	"database/sql"
	"slices"
	"sync"
)

// sqlTx is what the write helpers need of a transaction: *sql.Tx has it,
// and so has cachedTx.
type sqlTx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// cachedTx prepares each distinct statement once per transaction, and
// once per connection through the store's stmtCache. A batch of fetches
// runs the same dozen statements for every fetch; preparing them each
// time was a large part of an all-304 pass, where a fetch's only write is
// its state and most transactions hold a single fetch. Statements from
// PrepareContext belong to the cache: callers must not close them.
type cachedTx struct {
	tx     *sql.Tx
	shared *stmtCache
	stmts  map[string]*sql.Stmt
}

func newCachedTx(tx *sql.Tx, shared *stmtCache) *cachedTx {
	return &cachedTx{tx: tx, shared: shared, stmts: make(map[string]*sql.Stmt)}
}

// PrepareContext returns the transaction's statement for query: the
// writer connection's own when the store has prepared it before, else
// one prepared now, whose query the store learns.
func (c *cachedTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if db := c.shared.get(query); db != nil {
		// Reuses the statement already prepared on the connection.
		st = c.tx.StmtContext(ctx, db)
	} else {
		var err error
		if st, err = c.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
	}
	c.stmts[query] = st
	return st, nil
}

// stmtCache holds statements prepared on the writer pool, which has one
// connection. A statement cannot be prepared on the pool while a
// transaction holds that connection, so a transaction that meets a new
// query prepares it for itself and records it; the batcher prepares the
// recorded queries on the pool between transactions (prepareLearned).
type stmtCache struct {
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	learned []string
}

func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stmts[query]
	if st == nil && !slices.Contains(c.learned, query) {
		c.learned = append(c.learned, query)
	}
	return st
}

// prepareLearned prepares the queries transactions met since the last
// call. It must run while no transaction holds the writer connection.
// A query that fails to prepare is left to the transactions.
func (c *stmtCache) prepareLearned(ctx context.Context, db *sql.DB) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range c.learned {
		if _, ok := c.stmts[q]; ok {
			continue
		}
		if st, err := db.PrepareContext(ctx, q); err == nil {
			if c.stmts == nil {
				c.stmts = make(map[string]*sql.Stmt)
			}
			c.stmts[q] = st
		}
	}
	c.learned = nil
}

// close releases the prepared statements.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts, c.learned = nil, nil
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

// readQueries are the statements every fetch runs on a reader: the
// known-items lookup of parsing and preparation's lookup of stored items.
// Preparing such statements for every call took a third of the lookups'
// CPU. Open prepares them on the reader pool, once per connection as
// each is first used.
var readQueries = []string{knownItemsQuery, storedItemsQuery}

// prepareReads prepares readQueries on the reader pool. A query that
// fails to prepare (a database of another schema, read-only) is left to
// the plain calls, which report the error.
func (s *Store) prepareReads(ctx context.Context) {
	s.readStmts = make(map[string]*sql.Stmt, len(readQueries))
	for _, q := range readQueries {
		if st, err := s.reader.PrepareContext(ctx, q); err == nil {
			s.readStmts[q] = st
		}
	}
}

// closeReads releases the statements prepareReads made.
func (s *Store) closeReads() {
	for _, st := range s.readStmts {
		st.Close()
	}
	s.readStmts = nil
}

// readTx runs the queries of tx, a read transaction, through the
// statements prepareReads made.
func (s *Store) readTx(tx *sql.Tx) sqlTx {
	return preparedTx{Tx: tx, stmts: s.readStmts}
}

// preparedTx is a transaction that runs the queries it holds a statement
// for through that statement, and any other query as *sql.Tx does.
type preparedTx struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

func (p preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st, ok := p.stmts[query]; ok {
		// The statement of this transaction's connection: prepared on it
		// the first time, then reused (database/sql keeps one per
		// connection). The transaction closes it.
		return p.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return p.Tx.QueryContext(ctx, query, args...)
}
