// Package policies holds the policy profiles shipped with Strongroom, embedded
// in the binary.
//
// baseline.yaml is the strict default every profile starts from: a profile
// file changes only the settings it names. The numbered files are examples,
// one per written security policy Strongroom's requirement catalog was drawn
// from; each quotes the sentence of that policy behind every setting, and can
// be copied as the start of an organisation's own profile.
//
// Package internal/policy parses and validates these files.
package policies

import "embed"

// FS holds every *.yaml file of this directory.
//
//go:embed *.yaml
var FS embed.FS
