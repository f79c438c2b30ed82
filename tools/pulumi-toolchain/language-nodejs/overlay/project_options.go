//go:build homefleet_overlay

// Added to the v3.68.0 Node.js language host by tools/pulumi-toolchain/build.sh (the build tag
// keeps it out of this module's own package list; build.sh copies it beside the host's sources).
//
// That host takes the project's runtime options (Pulumi.yaml `runtime.options`) as command-line
// flags, which the 3.248 engine no longer passes: it sends them with each request instead, in a
// field the 2023 protocol lacks. So the host reads them from the project file, found from the
// program's directory as the engine finds it, and applies them as the 3.248 host does:
// `typescript` (register ts-node; default true), `nodeargs` (extra node arguments) and `tsconfig`
// (the tsconfig file ts-node uses). A flag's value stays where the project does not set the option.

package main

import (
	"os"

	"gopkg.in/yaml.v3"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// projectRuntimeOptions returns the runtime options of the project that holds the program run by
// req, or nil when no project file is found or it cannot be read. Only the `runtime` key is read:
// the 2023 project schema rejects keys that later releases added (workspace.LoadProject fails on
// a project file that the 3.248 CLI accepts).
func projectRuntimeOptions(req *pulumirpc.RunRequest) map[string]interface{} {
	path, err := workspace.DetectProjectPathFrom(req.GetPwd())
	if err != nil || path == "" {
		return nil
	}
	text, err := os.ReadFile(path)
	if err != nil {
		logging.V(3).Infof("reading the runtime options of %s: %v", path, err)
		return nil
	}
	var project struct {
		Runtime workspace.ProjectRuntimeInfo `yaml:"runtime"`
	}
	if err := yaml.Unmarshal(text, &project); err != nil {
		logging.V(3).Infof("reading the runtime options of %s: %v", path, err)
		return nil
	}
	return project.Runtime.Options()
}

func (host *nodeLanguageHost) typescriptFor(req *pulumirpc.RunRequest) bool {
	if value, ok := projectRuntimeOptions(req)["typescript"].(bool); ok {
		return value
	}
	return host.typescript
}

func (host *nodeLanguageHost) nodeargsFor(req *pulumirpc.RunRequest) string {
	if value, ok := projectRuntimeOptions(req)["nodeargs"].(string); ok {
		return value
	}
	return host.nodeargs
}

func (host *nodeLanguageHost) tsconfigpathFor(req *pulumirpc.RunRequest) string {
	if value, ok := projectRuntimeOptions(req)["tsconfig"].(string); ok {
		return value
	}
	return host.tsconfigpath
}
