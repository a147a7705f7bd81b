package feedfarm_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/syndic-dev/syndic/internal/feedfarm"
)

func TestWriteConfig(t *testing.T) {
	f := feedfarm.New(feedfarm.Options{Sources: 25, Items: 3, BrokenShare: 0.2})
	if err := f.WriteConfig(&bytes.Buffer{}, feedfarm.ConfigOptions{}); err == nil {
		t.Error("WriteConfig before Start and without FarmURL: no error")
	}
	var buf bytes.Buffer
	err := f.WriteConfig(&buf, feedfarm.ConfigOptions{
		StoragePath: `C:\data\"farm".db`, Listen: "127.0.0.1:8081", BaseURL: "http://127.0.0.1:8081/",
		Concurrency: 64, HostInterval: "0s", Schedule: "*/5 * * * *", FarmURL: "http://127.0.0.1:9000/",
	})
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if _, err := toml.Decode(buf.String(), &cfg); err != nil {
		t.Fatalf("decode config: %v\n%s", err, buf.String())
	}
	sources, _ := cfg["source"].([]map[string]any)
	if got, want := len(sources), f.Sources(); got != want {
		t.Fatalf("%d [[source]] blocks, want %d", got, want)
	}
	if got, want := sources[7]["id"], "farm-0007"; got != want {
		t.Errorf("source[7].id = %v, want %s", got, want)
	}
	if got, want := sources[7]["url"], "http://127.0.0.1:9000/s/7"; got != want {
		t.Errorf("source[7].url = %v, want %s", got, want)
	}
	fetch := cfg["fetch"].(map[string]any)
	if fetch["concurrency"] != int64(64) || fetch["per_host"] != int64(64) || fetch["host_interval"] != "0s" || fetch["schedule"] != "*/5 * * * *" {
		t.Errorf("[fetch] = %v", fetch)
	}
	if got := cfg["storage"].(map[string]any)["path"]; got != `C:\data\"farm".db` {
		t.Errorf("[storage] path = %v", got)
	}
	server := cfg["server"].(map[string]any)
	if server["listen"] != "127.0.0.1:8081" || server["base_url"] != "http://127.0.0.1:8081/" {
		t.Errorf("[server] = %v", server)
	}
	if !strings.Contains(buf.String(), "per_host is raised") {
		t.Error("config does not explain the raised per_host")
	}
}
