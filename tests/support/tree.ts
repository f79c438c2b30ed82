import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RENDER_INDEX } from "../../cli/render";

/** A rendered directory as path → mode and content (directories and other entries by kind), the render index left out. */
export function tree(dir: string): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (path === RENDER_INDEX) continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) {
        entries.set(`${path}/`, "directory");
        walk(full, path);
      } else entries.set(path, `${(lstatSync(full).mode & 0o7777).toString(8)} ${entry.isFile() ? readFileSync(full, "base64") : entry.isSymbolicLink() ? "symlink" : "other"}`);
    }
  };
  walk(dir, "");
  return entries;
}
