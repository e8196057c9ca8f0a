package cli

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sinks test reaches a live UDP receiver and a file, and names the sink
// that failed with a non-zero exit.
func TestSinksTest(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "ocsf.ndjson")
	// A closed port: the webhook sink must fail.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	cfg := filepath.Join(dir, "custos.yaml")
	yaml := "sinks:\n" +
		"  - {name: udp, type: cef, syslog: {network: udp, address: '" + pc.LocalAddr().String() + "'}}\n" +
		"  - {name: lake, type: ocsf, file: {path: '" + out + "'}}\n" +
		"  - {name: hook, type: webhook, http: {url: 'http://" + deadAddr + "/x', timeout: 2s}}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := runCLI(t, "sinks", "test", "-c", cfg, "udp", "lake")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if stdout != "udp (cef): delivered\nlake (ocsf): delivered\n" {
		t.Errorf("stdout = %q", stdout)
	}
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1<<16)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if msg := string(buf[:n]); !strings.Contains(msg, "CEF:0|Custos|Custos|dev|custos_sink_test|") {
		t.Errorf("syslog message %q is not the CEF test finding", msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var doc map[string]any
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &doc) != nil || doc["class_uid"] != 2004.0 {
		t.Errorf("file sink holds %q, want an OCSF finding", sc.Text())
	}

	stdout, _, code = runCLI(t, "sinks", "test", "-c", cfg, "hook", "nosuch")
	if code != 1 || !strings.Contains(stdout, "hook (webhook): FAILED: ") || !strings.Contains(stdout, "nosuch: no such sink") {
		t.Errorf("exit %d, stdout %q: want the failed and unknown sinks named", code, stdout)
	}
}
