import { readFileSync } from "node:fs";
import { join } from "node:path";
import { homefleetRoot } from "../../config/packageRoot";

/**
 * Host scripts are real files in the repository, `render/scripts/<name>.sh`, shellchecked as
 * they are (tests/hostScripts.test.ts). They are read from the source tree, found through
 * homefleet's package.json (config/packageRoot.ts), so the same path works from ts-node and jest,
 * from the compiled `dist/` (tsc does not copy .sh files), from the esbuild CLI bundle
 * (dist/homefleet-cli.js) and from the Pulumi program. Each one is read once, at load: the
 * renderers and the deployer's dynamic provider carry the text, not the path.
 *
 * Shared parts live in `render/scripts/lib/*.sh`. A script includes one with exactly these two
 * lines, which make the file run as it is from the repository and let shellcheck follow the
 * include (render/scripts/.shellcheckrc):
 *
 *     # shellcheck source=lib/NAME.sh
 *     . "${BASH_SOURCE%/*}/lib/NAME.sh"
 *
 * hostScriptText replaces the two lines with the text of lib/NAME.sh minus its leading comment
 * block (its shell directive and the note on what the includer must set), so every installed
 * script is one self-contained file and no host ever sources anything.
 */
export const SCRIPTS_DIR = ["render", "scripts"] as const;

const INCLUDE = /^# shellcheck source=(lib\/[a-z0-9-]+\.sh)\n\. "\$\{BASH_SOURCE%\/\*\}\/(lib\/[a-z0-9-]+\.sh)"\n/gm;
/** Any line that still sources a file after the includes are expanded: a typo in an include. */
const SOURCES = /^\s*(\.|source)\s/m;

function readScriptFile(relativePath: string): string {
  return readFileSync(join(homefleetRoot(), ...SCRIPTS_DIR, relativePath), "utf8");
}

/** The text of lib/NAME.sh that an include stands for: the file without its leading `#` lines. */
export function fragmentText(relativePath: string): string {
  return withoutLeadingComments(readScriptFile(relativePath));
}

export function withoutLeadingComments(text: string): string {
  const lines = text.split("\n");
  const body = lines.findIndex((line) => !line.startsWith("#"));
  return body < 0 ? "" : lines.slice(body).join("\n");
}

/** The installed text of render/scripts/FILE_NAME, its includes expanded. */
export function hostScriptText(fileName: string): string {
  return expandIncludes(fileName, readScriptFile(fileName), fragmentText);
}

/** TEXT (of FILE_NAME, for errors) with each include replaced by FRAGMENT(lib/NAME.sh). */
export function expandIncludes(fileName: string, text: string, fragment: (relativePath: string) => string): string {
  const expanded = text.replace(INCLUDE, (_lines, directive: string, path: string) => {
    if (directive !== path) throw new Error(`render/scripts/${fileName}: the shellcheck directive names ${directive} but the script sources ${path}`);
    return fragment(path);
  });
  if (SOURCES.test(expanded)) throw new Error(`render/scripts/${fileName}: a line sources a file but is not an include that render/scripts/files.ts expands`);
  return expanded;
}
