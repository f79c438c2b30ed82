import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The directory of homefleet's own sources, found from this file whether it runs as TypeScript
 * (config/) or compiled (dist/config/): host scripts and package.json live there.
 */
export function homefleetRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name === "homefleet") return dir;
    } catch {
      // not here: look one level up
    }
  }
  throw new Error(`homefleet's package.json was not found above ${__dirname}`);
}

/** homefleet's version, from its package.json. */
export function homefleetVersion(): string {
  return JSON.parse(readFileSync(join(homefleetRoot(), "package.json"), "utf8")).version as string;
}
