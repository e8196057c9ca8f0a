package breach

import (
	"fmt"
	"time"
)

// ParseWindow reads --since and --until (or the since and until query
// parameters): an RFC 3339 time, or a date (YYYY-MM-DD, UTC). A date as
// until includes that whole day, as a person reading "until 31 March"
// expects. Empty means open.
func ParseWindow(since, until string) (Window, error) {
	var w Window
	var err error
	if w.Since, err = parseBound("since", since, false); err != nil {
		return w, err
	}
	if w.Until, err = parseBound("until", until, true); err != nil {
		return w, err
	}
	return w, w.Validate()
}

func parseBound(name, s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not a date (YYYY-MM-DD) or an RFC 3339 time", name, s)
	}
	return t.UTC(), nil
}
