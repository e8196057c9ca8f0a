// Command custos is the Custos insider-risk engine: one binary that replays
// or serves support-access events, detects insiders and writes findings.
package main

import (
	"os"

	"github.com/custos-io/custos/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
