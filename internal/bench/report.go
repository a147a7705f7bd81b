package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine describes this machine: cores, CPU model, memory and the load
// when the run started, which says how noisy its figures are.
func Machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = fmt.Sprintf(", load average %s %s %s at start", f[0], f[1], f[2])
		}
	}
	return fmt.Sprintf("%d cores (%s)%s, %s %s/%s%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, load)
}

// Target is one of issue 7's targets, judged on this run.
type Target struct {
	Name     string
	Measured string
	Pass     bool
}

// Targets judges the run against the targets. Targets whose
// measurement was skipped are left out.
func (r *Report) Targets() []Target {
	var out []Target
	add := func(name, measured string, pass bool) {
		out = append(out, Target{name, measured, pass})
	}
	mainScale := fmt.Sprintf("%dx%d", r.Opts.Sources, r.Opts.Items)
	var scales []string
	seen := map[string]bool{}
	for _, p := range r.Passes {
		if !seen[p.Scale] {
			seen[p.Scale] = true
			scales = append(scales, p.Scale)
		}
	}
	for _, scale := range scales {
		s, raw := r.pass(SysSyndic, PassFirst, scale), r.pass(SysRawSQLite, PassFirst, scale)
		if s != nil && raw != nil {
			x := ratio(s.Wall, raw.Wall)
			measured := fmt.Sprintf("%.2fx", x)
			if c := s.SearchCatchUp; c != nil {
				// The pass leaves search indexing for later; say what
				// it costs when it follows at once.
				measured += fmt.Sprintf(" (%.2fx with the search index catch-up after it)", ratio(s.Wall+c.Wall, raw.Wall))
			}
			add(fmt.Sprintf("first ingest at %s <= 1.5x raw fetch+parse+SQLite", scale), measured, x <= 1.5)
		}
		missing, expected := 0, 0
		for _, p := range r.Passes {
			if p.System == SysSyndic && p.Scale == scale && p.Check != nil {
				missing, expected = p.Check.Missing, p.Check.Expected
			}
		}
		if s != nil {
			add(fmt.Sprintf("zero loss at %s (every published item stored)", scale), fmt.Sprintf("%d of %d missing", missing, expected), missing == 0)
			var peak int64
			for _, p := range r.Passes {
				if p.System == SysSyndic && p.Scale == scale {
					peak = max(peak, p.MaxRSSKB)
				}
			}
			items := s.Stored
			switch {
			case items <= 25000:
				add(fmt.Sprintf("peak RSS of syndic fetch at %s < 80 MB", scale), mb(peak), peak < 80<<10)
			case items <= 500000:
				add(fmt.Sprintf("peak RSS of syndic fetch at %s < 250 MB", scale), mb(peak), peak < 250<<10)
			}
		}
	}
	if s, raw := r.pass(SysSyndic, PassRepoll, mainScale), r.pass(SysRaw, PassRepoll, mainScale); s != nil && raw != nil {
		x := ratio(s.Wall, raw.Wall)
		if r.Opts.Latency > 0 {
			add(fmt.Sprintf("all-304 re-poll with %s latency <= 1.2x raw", r.Opts.Latency), fmt.Sprintf("%.2fx", x), x <= 1.2)
		} else {
			add("all-304 re-poll <= 3x raw", fmt.Sprintf("%.2fx", x), x <= 3)
		}
	}
	if s, raw := r.pass(SysSyndic, PassChurn, mainScale), r.pass(SysRawSQLite, PassChurn, mainScale); s != nil && raw != nil {
		x := ratio(s.Wall, raw.Wall)
		add("churn poll <= 1.5x raw fetch+parse+SQLite", fmt.Sprintf("%.2fx", x), x <= 1.5)
	}
	if s := r.lastPass(SysSyndic, mainScale); s != nil && s.Stored > 0 {
		per := float64(s.DBBytes) / float64(s.Stored)
		add("database < 3 KB per item (incl. search index)", fmt.Sprintf("%.0f B", per), per < 3072)
	}
	syn, ref := r.publish("syndic serve", false), r.publish("net/http from memory", false)
	if syn != nil && ref != nil {
		x := syn.RPS() / ref.RPS()
		add("publishing req/s >= 0.9x net/http from memory", fmt.Sprintf("%.2fx", x), x >= 0.9)
		add("publishing p99 < 10 ms (200)", ms(syn.P99), syn.P99 < 10*time.Millisecond)
	}
	if c := r.publish("syndic serve", true); c != nil && syn != nil {
		add("publishing p99 < 10 ms (304)", ms(c.P99), c.P99 < 10*time.Millisecond)
		add("a 304 at least as fast as a 200 (req/s)", fmt.Sprintf("%.0f vs %.0f", c.RPS(), syn.RPS()), c.RPS() >= syn.RPS())
	}
	if rd := r.Readers; rd != nil {
		add("readers during ingestion: p99 < 25 ms", ms(rd.P99), rd.P99 < 25*time.Millisecond)
		add("readers during ingestion: no errors", fmt.Sprintf("%d errors, %d locked in log", rd.Errors, rd.LockedLogged), rd.Errors == 0 && rd.LockedLogged == 0)
		add("readers during ingestion: zero loss", fmt.Sprintf("%d of %d missing", rd.Check.Missing, rd.Check.Expected), rd.Check.Missing == 0)
	}
	for _, c := range r.Cold {
		if c.Items >= 100000 {
			add(fmt.Sprintf("serve cold start on %d items < 1 s", c.Items), secs(c.Wall), c.Wall < time.Second)
		}
	}
	return out
}

func (r *Report) lastPass(system, scale string) *PassResult {
	for i := len(r.Passes) - 1; i >= 0; i-- {
		if p := &r.Passes[i]; p.System == system && p.Scale == scale {
			return p
		}
	}
	return nil
}

func (r *Report) publish(server string, cond bool) *PublishResult {
	for i := range r.Publish {
		if p := &r.Publish[i]; p.Server == server && p.Conditional == cond {
			return p
		}
	}
	return nil
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func mb(kb int64) string        { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
func secs(d time.Duration) string {
	if d < 100*time.Millisecond {
		return fmt.Sprintf("%.3f s", d.Seconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// Markdown writes the report as Markdown tables.
func (r *Report) Markdown(w io.Writer) {
	o := r.Opts
	fmt.Fprintf(w, "## syndicbench: %d sources x %d items, churn %d, %d workers", o.Sources, o.Items, o.Churn, o.Workers)
	if o.Latency > 0 {
		fmt.Fprintf(w, ", %s latency per request", o.Latency)
	}
	if o.Gzip {
		fmt.Fprint(w, ", gzip")
	}
	fmt.Fprintf(w, "\n\nMachine: %s. Run started %s.\n", r.Machine, r.Started.UTC().Format(time.RFC3339))
	fmt.Fprint(w, "The farm and the load generators run in the harness process; every measured system runs as a child\n"+
		"process on the same cores (wall, CPU = user+sys and peak RSS from the OS). Absolute figures vary with the\n"+
		"machine and its load; the ratios come from the same run.\n")
	if o.Rounds > 1 {
		fmt.Fprintf(w, "Every first ingest ran %d rounds, the systems taking turns, each round on fresh databases; a row\n"+
			"gives the system's fastest round, and the list under the table gives every round's wall time.\n", o.Rounds)
	}

	if len(r.Passes) > 0 {
		fmt.Fprint(w, "\n### Ingestion\n\n")
		fmt.Fprintln(w, "| scale | system | pass | wall | CPU | items/s | peak RSS | DB bytes/item | wall vs raw+SQLite | CPU vs raw+SQLite |")
		fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, p := range r.Passes {
			per := "-"
			if p.Stored > 0 {
				per = fmt.Sprintf("%.0f", float64(p.DBBytes)/float64(p.Stored))
			}
			vsWall, vsCPU := "-", "-"
			if raw := r.pass(SysRawSQLite, p.Pass, p.Scale); raw != nil {
				vsWall = fmt.Sprintf("%.2fx", ratio(p.Wall, raw.Wall))
				vsCPU = fmt.Sprintf("%.2fx", ratio(p.CPU, raw.CPU))
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.0f | %s | %s | %s | %s |\n", p.Scale, p.System, p.Pass,
				secs(p.Wall), secs(p.CPU), p.ItemsPerSec(), mb(p.MaxRSSKB), per, vsWall, vsCPU)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "items/s: items parsed (raw) or newly stored (syndic) per second of wall time.")
		fmt.Fprintln(w)
		for _, p := range r.Passes {
			fmt.Fprintf(w, "- %s %s %s: %s", p.Scale, p.System, p.Pass, p.Summary)
			if len(p.Rounds) > 1 {
				walls := make([]string, len(p.Rounds))
				for i, round := range p.Rounds {
					walls[i] = secs(round.Wall)
				}
				fmt.Fprintf(w, " (the fastest of %d rounds: %s)", len(p.Rounds), strings.Join(walls, ", "))
			}
			if c := p.Check; c != nil {
				fmt.Fprintf(w, " — database: %d items stored of %d published, %d missing, %d unexpected, %d joined another source's story",
					c.Stored, c.Expected, c.Missing, c.Extra, c.Duplicates)
			}
			if c := p.SearchCatchUp; c != nil {
				fmt.Fprintf(w, "; then the search index took in the pass's new items in %s (%s CPU, peak RSS %s: `syndic items -q`, which indexes what waits first)",
					secs(c.Wall), secs(c.CPU), mb(c.MaxRSSKB))
			}
			fmt.Fprintln(w)
		}
	}
	if len(r.Publish) > 0 {
		fmt.Fprintf(w, "\n### Publishing /feeds/%s.atom (%d bytes), %d keep-alive clients, %s per row\n\n", o.Output, r.Publish[0].Bytes, o.Clients, o.Duration)
		fmt.Fprintf(w, "The reference is a minimal net/http child process serving the same bytes, ETag and 304s from memory. It and syndic take turns, %d of %s each.\n", publishSlices, publishSlice(o.Duration))
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| server | request | req/s | p50 | p99 | max | errors | req/s vs net/http |")
		fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, p := range r.Publish {
			req := "GET (200)"
			if p.Conditional {
				req = "If-None-Match (304)"
			}
			vs := "-"
			if ref := r.publish("net/http from memory", p.Conditional); ref != nil && ref.RPS() > 0 {
				vs = fmt.Sprintf("%.2fx", p.RPS()/ref.RPS())
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %d | %s |\n", p.Server, req, p.RPS(), ms(p.P50), ms(p.P99), ms(p.Max), p.Errors, vs)
		}
		for _, p := range r.Publish {
			if p.FirstError != "" {
				fmt.Fprintf(w, "\n%s: first error: %s\n", p.Server, p.FirstError)
			}
		}
	}
	if rd := r.Readers; rd != nil {
		fmt.Fprintf(w, "\n### Readers during full-speed ingestion (syndic serve, fresh database, startup_spread 0s)\n\n")
		fmt.Fprintln(w, "| readers | ingest wall | serve CPU | serve peak RSS | reads | reads/s | p50 | p99 | max | errors | locked in log | stored / published |")
		fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		fmt.Fprintf(w, "| %d | %s | %s | %s | %d | %.0f | %s | %s | %s | %d | %d | %d / %d |\n", rd.Readers, secs(rd.IngestWall),
			secs(rd.Serve.CPU), mb(rd.Serve.MaxRSSKB), rd.Requests, rd.RPS(), ms(rd.P50), ms(rd.P99), ms(rd.Max),
			rd.Errors, rd.LockedLogged, rd.Check.Stored, rd.Check.Expected)
		if rd.FirstError != "" {
			fmt.Fprintf(w, "\nfirst error: %s\n", rd.FirstError)
		}
	}
	if len(r.Cold) > 0 {
		fmt.Fprint(w, "\n### serve cold start (process start to the first 200 on the output)\n\n")
		fmt.Fprintln(w, "| items | database | time |")
		fmt.Fprintln(w, "| ---: | ---: | ---: |")
		for _, c := range r.Cold {
			fmt.Fprintf(w, "| %d | %s | %s |\n", c.Items, mb(c.DBBytes>>10), secs(c.Wall))
		}
	}
	if ts := r.Targets(); len(ts) > 0 {
		fmt.Fprint(w, "\n### Targets (issue 7)\n\n")
		fmt.Fprintln(w, "| target | measured | result |")
		fmt.Fprintln(w, "| --- | ---: | --- |")
		for _, t := range ts {
			res := "FAIL"
			if t.Pass {
				res = "PASS"
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", t.Name, t.Measured, res)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\nNote: %s\n", n)
	}
}
