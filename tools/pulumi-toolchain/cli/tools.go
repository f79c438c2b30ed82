//go:build tools

// Package tools pins the Pulumi CLI (and with it the deployment engine) that build.sh compiles.
// The CLI's own go.mod replaces sdk/v3 with a local path, so `go install …@v3.248.0` refuses it;
// this module requires pkg/v3 and sdk/v3 at the same version and repeats only the clipboard
// replace.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
