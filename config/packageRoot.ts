import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

let found: { readonly dir: string; readonly version: string } | undefined;

/** homefleet's package.json, looked up once per process: every host script is read through it. */
function homefleetPackage(): { readonly dir: string; readonly version: string } {
  if (found) return found;
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    let text: string;
    try {
      text = readFileSync(join(dir, "package.json"), "utf8");
    } catch {
      // not here: look one level up
      continue;
    }
    try {
      const pkg = JSON.parse(text) as { name?: unknown; version?: unknown };
      if (pkg.name === "homefleet") return (found = { dir, version: pkg.version as string });
    } catch {
      // not a package.json homefleet can read: look one level up
    }
  }
  throw new Error(`homefleet's package.json was not found above ${__dirname}`);
}

/**
 * The directory of homefleet's own sources, found from this file whether it runs as TypeScript
 * (config/) or compiled (dist/config/): host scripts and package.json live there.
 */
export function homefleetRoot(): string {
  return homefleetPackage().dir;
}

/** homefleet's version, from its package.json. */
export function homefleetVersion(): string {
  return homefleetPackage().version;
}
