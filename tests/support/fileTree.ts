import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** A file as the tree tests compare it: its permission bits and its bytes. */
export interface TreeFile {
  readonly mode: number;
  /** The bytes as latin1 text: every byte kept, and compared as one string (jest compares a Buffer byte by byte, seconds for a rendered stack). */
  readonly bytes: string;
}

/** Every file under `dir` as relative path → mode and bytes, in sorted order, but for the relative paths in `skip`. */
export function fileTree(dir: string, skip: readonly string[] = []): Map<string, TreeFile> {
  const files = new Map<string, TreeFile>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(d, entry.name);
      const rel = relative(dir, full);
      if (skip.includes(rel)) continue;
      if (entry.isDirectory()) walk(full);
      else files.set(rel, { mode: statSync(full).mode & 0o7777, bytes: readFileSync(full, "latin1") });
    }
  };
  walk(dir);
  return files;
}
