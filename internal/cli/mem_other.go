//go:build !linux

package cli

// physicalMemory is unknown here: replay sets no soft memory limit.
func physicalMemory() uint64 { return 0 }
