import { chmodSync, mkdirSync, mkdtempSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * A new directory for the data a rendered config names (backup.dir, volumes, restic
 * repositories), which the drills then run the real scripts against. Not below /tmp or /var/tmp:
 * config refuses data there (the system empties them, and homefleet's units see private copies).
 * As root (CI, and the drills that run programs as postgres) under /var/lib/homefleet-tests,
 * which every user can traverse; otherwise under the user's cache directory.
 */
export function dataScratch(prefix: string): string {
  const root = process.getuid?.() === 0;
  const parent = root ? "/var/lib/homefleet-tests" : join(homedir(), ".cache", "homefleet-tests");
  mkdirSync(parent, { recursive: true });
  if (root) chmodSync(parent, 0o755);
  return mkdtempSync(join(parent, prefix));
}
