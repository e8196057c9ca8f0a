// Package rules embeds Custos's shipped detection rule pack: the YAML rule
// files in this directory. internal/rules loads and compiles them;
// docs/rules.md documents each rule.
package rules

import "embed"

// FS holds the rule files.
//
//go:embed *.yaml
var FS embed.FS
