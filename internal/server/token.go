package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// minTokenLen is the shortest configured token accepted without a warning.
const minTokenLen = 16

// ResolveToken returns the API token: token if set; else the contents of
// file; else a new random token, which it writes to file (mode 0600, never
// overwriting) and prints once to announce so the operator can hand it to
// clients.
func ResolveToken(token, file string, announce io.Writer, log *slog.Logger) (string, error) {
	if token != "" {
		if len(token) < minTokenLen {
			log.Warn("the configured API token is short; use at least 16 random characters", "length", len(token))
		}
		return token, nil
	}
	if file == "" {
		return "", errors.New("no API token: set serve.token or serve.token_file")
	}
	b, err := os.ReadFile(file)
	switch {
	case err == nil:
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", fmt.Errorf("token file %s is empty: delete it to have a token generated, or write one into it", file)
		}
		if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o077 != 0 {
			log.Warn("the token file is readable by others; chmod 600 it", "file", file, "mode", st.Mode().Perm().String())
		}
		return t, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("reading token file: %w", err)
	}

	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generating an API token: %w", err)
	}
	t := hex.EncodeToString(raw)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating token file: %w", err)
	}
	if _, err := f.WriteString(t + "\n"); err != nil {
		f.Close()
		os.Remove(file)
		return "", fmt.Errorf("writing token file %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(file)
		return "", fmt.Errorf("writing token file %s: %w", file, err)
	}
	fmt.Fprintf(announce, "custos: generated an API token and saved it to %s (mode 0600).\n"+
		"Clients send it as \"Authorization: Bearer TOKEN\". It is shown only this once:\n\n    %s\n\n", file, t)
	return t, nil
}
