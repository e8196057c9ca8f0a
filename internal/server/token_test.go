package server

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveToken(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	dir := t.TempDir()
	file := filepath.Join(dir, "custos.token")

	var out bytes.Buffer
	tok, err := ResolveToken("configured-token-1234", file, &out, log)
	if err != nil || tok != "configured-token-1234" || out.Len() != 0 {
		t.Fatalf("configured token: %q %v %q", tok, err, out.String())
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Error("a configured token still created the token file")
	}

	tok, err = ResolveToken("", file, &out, log)
	if err != nil || len(tok) != 64 {
		t.Fatalf("generated token %q, %v", tok, err)
	}
	if !strings.Contains(out.String(), tok) || !strings.Contains(out.String(), file) {
		t.Errorf("the new token and its file are not announced: %q", out.String())
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}

	out.Reset()
	again, err := ResolveToken("", file, &out, log)
	if err != nil || again != tok || out.Len() != 0 {
		t.Errorf("second start: %q %v, announced %q; want the same token, silently", again, err, out.String())
	}

	os.Chmod(file, 0o644)
	ResolveToken("", file, &out, log)
	if !strings.Contains(logs.String(), "readable by others") {
		t.Errorf("no warning for a world-readable token file: %s", logs.String())
	}
	os.WriteFile(file, []byte("\n"), 0o600)
	if _, err := ResolveToken("", file, &out, log); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v", err)
	}
	if _, err := ResolveToken("", filepath.Join(dir, "missing", "t"), &out, log); err == nil {
		t.Error("token file in a missing directory: no error")
	}
	if _, err := ResolveToken("", "", &out, log); err == nil {
		t.Error("no token and no file: no error")
	}
}
