// Package bench is syndic's benchmark harness: it measures the real
// `syndic` binary (fetch, serve) against a feed farm and against the raw
// limits of the same machine, and reports absolute figures, ratios and the
// targets of issue 7 side by side. cmd/syndicbench is its command line.
//
// The raw limit (RawPass) is a deliberately naive aggregator: net/http,
// gofeed and database/sql used directly. It is the one place outside
// internal/parser that imports gofeed, and outside internal/store that
// opens SQLite, on purpose: a baseline must not share the code it is the
// baseline for. The harness also reads syndic's database directly, read
// only, to verify that every published item was stored.
//
// Every measured system runs as a child process (the syndic binary, or
// this program re-executed in a child mode for the raw limit and the
// reference HTTP server) while the farm and the load generators run in
// the harness process, so that each measurement pays the same costs: a
// process start, and a farm competing for the same cores.
package bench
