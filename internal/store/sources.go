package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/syndic-dev/syndic/internal/model"
)

// SyncSources aligns the sources table with the configuration: sources
// maps each configured id to its URL. Missing rows are created, URLs
// updated, and rows not in the map are marked orphaned (their items are
// kept until Prune). A changed URL drops the conditional-GET validators,
// which belong to the old URL.
func (s *Store) SyncSources(ctx context.Context, sources map[string]string) error {
	ids := make([]string, 0, len(sources))
	pairs := make([][2]string, 0, len(sources))
	for id, u := range sources {
		ids = append(ids, id)
		pairs = append(pairs, [2]string{id, u})
	}
	list, err := json.Marshal(pairs)
	if err != nil {
		return fmt.Errorf("sync sources: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		// One statement for every source: at 500 sources, one per source
		// was a fifth of a cron run that found nothing new.
		_, err := tx.ExecContext(ctx, `
			INSERT INTO sources (
				id,
				url
			)
			SELECT
				value ->> 0,
				value ->> 1
			FROM json_each(?)
			-- WHERE makes ON CONFLICT parse as the upsert clause.
			WHERE true
			ON CONFLICT (id) DO UPDATE SET
				url = excluded.url,
				etag = iif(url = excluded.url, etag, ''),
				last_modified = iif(url = excluded.url, last_modified, ''),
				orphaned = 0
			WHERE url <> excluded.url OR orphaned <> 0`, string(list))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE sources
			SET orphaned = 1
			WHERE orphaned = 0
				AND id NOT IN (SELECT value FROM json_each(?))`,
			jsonArray(ids))
		return err
	})
	if err != nil {
		return fmt.Errorf("sync sources: %w", err)
	}
	return nil
}

// sourceColumns are read by scanSource, in this order.
const sourceColumns = `
	id,
	url,
	feed_title,
	site_url,
	etag,
	last_modified,
	last_fetch,
	last_success,
	status,
	error_class,
	error,
	consecutive_errors,
	next_fetch,
	next_fetch_reason,
	redirect_url,
	alternates,
	orphaned,
	version`

func scanSource(sc interface{ Scan(...any) error }, extra ...any) (model.SourceState, error) {
	var (
		st                                model.SourceState
		lastFetch, lastSuccess, nextFetch int64
		alternates                        sql.NullString
		orphaned                          int
	)
	dest := append([]any{
		&st.SourceID,
		&st.URL,
		&st.FeedTitle,
		&st.SiteURL,
		&st.ETag,
		&st.LastModified,
		&lastFetch,
		&lastSuccess,
		&st.Status,
		&st.ErrorClass,
		&st.Error,
		&st.ConsecutiveErrors,
		&nextFetch,
		&st.NextFetchReason,
		&st.RedirectURL,
		&alternates,
		&orphaned,
		&st.Version,
	}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return st, err
	}
	st.LastFetch = fromMS(lastFetch)
	st.LastSuccess = fromMS(lastSuccess)
	st.NextFetch = fromMS(nextFetch)
	st.Orphaned = orphaned != 0
	var err error
	if st.Alternates, err = parseList(alternates); err != nil {
		return st, fmt.Errorf("source %q alternates: %w", st.SourceID, err)
	}
	return st, nil
}

// SourceState returns what is remembered about one source, with its item
// count, or ErrNotFound.
func (s *Store) SourceState(ctx context.Context, id string) (model.SourceState, error) {
	row := s.reader.QueryRowContext(ctx, `
		SELECT`+sourceColumns+`,
			(SELECT count(*) FROM items WHERE source_id = sources.id)
		FROM sources
		WHERE id = ?`, id)
	var n int
	st, err := scanSource(row, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return model.SourceState{}, fmt.Errorf("source %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return model.SourceState{}, fmt.Errorf("read state of source %q: %w", id, err)
	}
	st.Items = n
	return st, nil
}

// SourceStates returns every known source, orphans included, ordered by
// id, with item counts.
func (s *Store) SourceStates(ctx context.Context) ([]model.SourceState, error) {
	return s.sourceStates(ctx, true)
}

// FetchStates returns the state of every known source by id, without
// item counts: what a fetch pass needs, read in one cheap query.
func (s *Store) FetchStates(ctx context.Context) (map[string]model.SourceState, error) {
	states, err := s.sourceStates(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]model.SourceState, len(states))
	for _, st := range states {
		out[st.SourceID] = st
	}
	return out, nil
}

// sourceStates reads every known source ordered by id; counting items
// costs a scan of the per-source index, so it is asked for.
func (s *Store) sourceStates(ctx context.Context, withCounts bool) ([]model.SourceState, error) {
	count := ""
	if withCounts {
		count = ",\n\t\t\t(SELECT count(*) FROM items WHERE source_id = sources.id)"
	}
	rows, err := s.reader.QueryContext(ctx, `
		SELECT`+sourceColumns+count+`
		FROM sources
		ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read source states: %w", err)
	}
	defer rows.Close()
	var out []model.SourceState
	for rows.Next() {
		var n int
		var extra []any
		if withCounts {
			extra = append(extra, &n)
		}
		st, err := scanSource(rows, extra...)
		if err != nil {
			return nil, fmt.Errorf("read source states: %w", err)
		}
		st.Items = n
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read source states: %w", err)
	}
	return out, nil
}

// SaveState records a source's state without touching its items (a
// deferred fetch, for example). Items, Version and Orphaned are ignored.
func (s *Store) SaveState(ctx context.Context, st model.SourceState) error {
	if st.SourceID == "" {
		return errors.New("save source state: empty source id")
	}
	err := s.write(ctx, func(tx *sql.Tx) error { return upsertState(ctx, tx, st) })
	if err != nil {
		return fmt.Errorf("save state of source %q: %w", st.SourceID, err)
	}
	return nil
}

// upsertState writes st, creating the row when the source is new. An
// empty URL keeps the configured one.
func upsertState(ctx context.Context, tx sqlTx, st model.SourceState) error {
	alternates, err := jsonList(st.Alternates)
	if err != nil {
		return fmt.Errorf("encode alternates: %w", err)
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO sources (
			id,
			url,
			feed_title,
			site_url,
			etag,
			last_modified,
			last_fetch,
			last_success,
			status,
			error_class,
			error,
			consecutive_errors,
			next_fetch,
			next_fetch_reason,
			redirect_url,
			alternates
		) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			url = iif(excluded.url = '', url, excluded.url),
			feed_title = excluded.feed_title,
			site_url = excluded.site_url,
			etag = excluded.etag,
			last_modified = excluded.last_modified,
			last_fetch = excluded.last_fetch,
			last_success = excluded.last_success,
			status = excluded.status,
			error_class = excluded.error_class,
			error = excluded.error,
			consecutive_errors = excluded.consecutive_errors,
			next_fetch = excluded.next_fetch,
			next_fetch_reason = excluded.next_fetch_reason,
			redirect_url = excluded.redirect_url,
			alternates = excluded.alternates`,
		st.SourceID,
		st.URL,
		st.FeedTitle,
		st.SiteURL,
		st.ETag,
		st.LastModified,
		ms(st.LastFetch),
		ms(st.LastSuccess),
		st.Status,
		st.ErrorClass,
		st.Error,
		st.ConsecutiveErrors,
		ms(st.NextFetch),
		st.NextFetchReason,
		st.RedirectURL,
		alternates,
	)
	return err
}

// bumpVersion marks a source's published content as changed.
func bumpVersion(ctx context.Context, tx sqlTx, sourceID string) error {
	_, err := tx.ExecContext(ctx, `
		UPDATE sources
		SET version = version + 1
		WHERE id = ?`, sourceID)
	return err
}

// Versions returns every source's version. It is cheap: servers call it
// often to decide whether cached outputs are still fresh.
func (s *Store) Versions(ctx context.Context) (map[string]int64, error) {
	rows, err := s.reader.QueryContext(ctx, "SELECT id, version FROM sources")
	if err != nil {
		return nil, fmt.Errorf("read source versions: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, fmt.Errorf("read source versions: %w", err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read source versions: %w", err)
	}
	return out, nil
}
