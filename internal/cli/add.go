package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syndic-dev/syndic/internal/credential"
	"github.com/syndic-dev/syndic/internal/fetcher"
	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/opml"
	"github.com/syndic-dev/syndic/internal/parser"
)

func runAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "add", "[-config FILE] [-write] [-tags a,b] [-title TITLE] URL", `
Fetch URL, a feed or a web page that advertises one (<link
rel="alternate">; https:// is assumed when no scheme is given), check that
it parses, and print the [[source]] block for it: an id made from its
title, the feed URL (the target of a permanent redirect, if the server
moved it) and its title. With -write the block is
appended to the config file, keeping its content and comments; the result
is validated before the file is replaced, and a running 'syndic serve'
picks the new source up as it reloads the file. A feed already configured
is refused, naming the source. The request obeys the [fetch] settings
(timeout, max_body, deny_private_networks, ...).

  syndic add https://blog.example.org/ -tags tech -write`)
	write := fs.Bool("write", false, "append the new source to the config file")
	tags := fs.String("tags", "", "comma-separated `tags` for the source")
	title := fs.String("title", "", "`title` to set instead of the feed's own")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "name exactly one URL"}
	}
	cfg, err := loadConfig(env, *fs.config)
	if err != nil {
		return err
	}
	raw := strings.TrimSpace(pos[0])
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw // "blog.example.org/feed" as people type it
	}
	feedURL, feed, err := discoverFeed(ctx, env, newFetcher(cfg), raw)
	if err != nil {
		return err
	}
	name := feed.Title
	if *title != "" {
		name = *title
	}
	var tagList []string
	for t := range strings.SplitSeq(*tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tagList = append(tagList, t)
		}
	}
	res := opml.NewSources(cfg, []opml.Feed{{URL: feedURL, Title: name, SiteURL: feed.SiteURL, Tags: tagList}}, "added with syndic add")
	if len(res.Skipped) > 0 {
		return fmt.Errorf("%s: %s", credential.Redact(feedURL), res.Skipped[0].Reason)
	}
	fmt.Fprintf(env.Stderr, "%s feed %q with %d items at %s\n", formatName(feed.Format), feed.Title, len(feed.Items), credential.Redact(feedURL))
	if !*write {
		fmt.Fprint(env.Stdout, res.Blocks)
		return nil
	}
	if err := opml.AppendToConfig(cfg.Path, res.Blocks); err != nil {
		printConfigErrors(env.Stderr, err)
		return fmt.Errorf("append to %s: config unchanged", cfg.Path)
	}
	fmt.Fprintf(env.Stdout, "added source %q to %s\n", res.IDs[0], cfg.Path)
	return nil
}

// discoverFeed fetches rawURL and returns the URL to configure and the
// parsed feed. A web page that is no feed is searched for the feeds it
// advertises, and the first that parses is taken.
func discoverFeed(ctx context.Context, env *Env, f *fetcher.Fetcher, rawURL string) (string, *model.Feed, error) {
	feedURL, feed, err := fetchFeed(ctx, f, rawURL)
	var nf *parser.NotAFeedError
	if err == nil || !errors.As(err, &nf) || len(nf.Alternates) == 0 {
		return feedURL, feed, err
	}
	fmt.Fprintf(env.Stderr, "%s is a web page; it advertises %d feeds\n", credential.Redact(rawURL), len(nf.Alternates))
	var errs []error
	for _, alt := range nf.Alternates {
		feedURL, feed, err := fetchFeed(ctx, f, alt)
		if err == nil {
			if len(nf.Alternates) > 1 {
				fmt.Fprintf(env.Stderr, "taking the first that parses; the others: %s\n", strings.Join(others(nf.Alternates, alt), ", "))
			}
			return feedURL, feed, nil
		}
		errs = append(errs, err)
	}
	return "", nil, fmt.Errorf("no feed advertised by %s parses: %w", credential.Redact(rawURL), errors.Join(errs...))
}

// fetchFeed fetches and parses one URL. The URL returned is where a
// permanent redirect ended, else rawURL.
func fetchFeed(ctx context.Context, f *fetcher.Fetcher, rawURL string) (string, *model.Feed, error) {
	resp, err := f.Fetch(ctx, fetcher.Request{URL: rawURL})
	if err != nil {
		return "", nil, err
	}
	feed, err := parser.Parse(resp.Body, resp.ContentType, resp.FinalURL, parser.Options{Now: time.Now()})
	if err != nil {
		return "", nil, fmt.Errorf("parse %s: %w", credential.Redact(rawURL), err)
	}
	if resp.PermanentRedirect != "" {
		return resp.PermanentRedirect, feed, nil
	}
	return rawURL, feed, nil
}

func others(all []string, taken string) []string {
	var out []string
	for _, a := range all {
		if a != taken {
			out = append(out, credential.Redact(a))
		}
	}
	return out
}

func formatName(format string) string {
	switch format {
	case "rss":
		return "RSS"
	case "atom":
		return "Atom"
	case "json":
		return "JSON"
	}
	return format
}
