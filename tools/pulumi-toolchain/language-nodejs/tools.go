//go:build tools

// Package tools pins the Node.js language host that build.sh compiles. The host of the CLI's own
// release lives in a module the Go module proxy does not serve; the newest served copy of it is the
// one inside sdk/v3 v3.68.0 (later sdk/v3 releases moved it into that separate module). It speaks
// the same LanguageRuntime protocol; see docs/pulumi-toolchain.md for what differs.
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
