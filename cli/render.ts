import { chmodSync, closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fleetManifestJson, type FleetRender } from "../bundle/hostBundle";

/**
 * The bytes of `dir/manifest.json` if homefleet wrote it (any other project may have a
 * manifest.json), else undefined. A manifest with exactly the bytes this render writes is
 * homefleet's without parsing it: for 200 hosts it is 2.2 MB, and reading and parsing it took
 * ~40 ms of a re-render.
 */
function homefleetManifest(dir: string, expected: Buffer): Buffer | undefined {
  const file = join(dir, "manifest.json");
  if (!existsSync(file)) return undefined;
  try {
    const bytes = readFileSync(file);
    if (bytes.equals(expected)) return bytes;
    return (JSON.parse(bytes.toString("utf8")) as { generator?: unknown } | null)?.generator === "homefleet" ? bytes : undefined;
  } catch {
    return undefined;
  }
}

interface Target {
  readonly content: Buffer;
  /** Permission bits to set; undefined leaves the umask's (manifest.json). */
  readonly mode?: number;
}

/**
 * Removes from the earlier render in `dir` everything that is not a file of the new one: stale
 * files, symlinks and other non-files, directories nothing goes into. Collects the target files
 * that are there already as regular files, and the directories that stay.
 */
function prune(dir: string, targets: ReadonlyMap<string, Target>, dirs: ReadonlySet<string>, present: Set<string>, kept: Set<string>): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && dirs.has(path)) {
      kept.add(path);
      prune(path, targets, dirs, present, kept);
    } else if (entry.isFile() && targets.has(path)) present.add(path);
    else rmSync(path, { recursive: true, force: true });
  }
}

/**
 * True if `path` is a regular file with exactly these bytes and permission bits. One open, fstat,
 * read and close (readFileSync would lstat first and read once more to find the end).
 */
function holds(path: string, target: Target, scratch: Buffer): boolean {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size !== target.content.length) return false;
    if (target.mode !== undefined && (stat.mode & 0o7777) !== target.mode) return false;
    const length = target.content.length;
    return readSync(fd, scratch, 0, length, 0) === length && scratch.subarray(0, length).equals(target.content);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes every host's files under `<out>/<host>/<absolute path>` and `<out>/manifest.json`.
 * A previous render in `out` is replaced whole, so two renders of the same config are identical
 * trees; any other non-empty directory is refused rather than mixed into.
 *
 * Replacing an earlier render updates it in place: files that are already there byte for byte,
 * mode included, are left alone, and only stale, changed and new files are removed or written.
 * Deleting and recreating thousands of unchanged files was most of the time of a re-render.
 * A changed file is unlinked before it is written, so a hard link to the old file keeps the old
 * bytes, as it did when the whole tree was deleted.
 */
export function writeRender(render: FleetRender, outDir: string): number {
  const out = resolve(outDir);
  const manifest = join(out, "manifest.json");
  const manifestTarget: Target = { content: Buffer.from(fleetManifestJson(render)) };
  const earlier = existsSync(out) && readdirSync(out).length > 0;
  const earlierManifest = earlier ? homefleetManifest(out, manifestTarget.content) : undefined;
  if (earlier && !earlierManifest) {
    throw new Error(`${out} is not empty and holds no homefleet render (no manifest.json written by homefleet); choose an empty or new directory`);
  }
  const targets = new Map<string, Target>();
  // Hosts share many files byte for byte (the host scripts above all): each text is encoded once.
  const encoded = new Map<string, Buffer>();
  let count = 0;
  let longest = 0;
  for (const bundle of render.bundles) {
    for (const file of bundle.files) {
      let content = encoded.get(file.content);
      if (!content) encoded.set(file.content, (content = Buffer.from(file.content)));
      targets.set(join(out, bundle.host.name, file.path), { content, mode: parseInt(file.mode, 8) });
      longest = Math.max(longest, content.length);
      count++;
    }
  }
  targets.set(manifest, manifestTarget);

  const dirs = new Set<string>();
  for (const path of targets.keys()) {
    for (let dir = dirname(path); dir !== out && !dirs.has(dir); dir = dirname(dir)) dirs.add(dir);
  }
  const present = new Set<string>();
  const kept = new Set<string>();
  if (earlier) prune(out, targets, dirs, present, kept);

  // Each missing directory is made once, parents first (a parent's path is shorter).
  mkdirSync(out, { recursive: true });
  for (const dir of [...dirs].filter((d) => !kept.has(d)).sort((a, b) => a.length - b.length)) mkdirSync(dir);
  // A new file gets its mode from open(2), less the umask: chmod only where the umask takes bits
  // away (0644 and 0755 under the usual 022 need none: most of 4800 files for 200 hosts).
  const umask = process.umask();
  // One buffer to read back every earlier file into, instead of one per file.
  const scratch = Buffer.allocUnsafe(longest);
  for (const [path, target] of targets) {
    // manifest.json last: until it is written, the directory still says what it held before.
    if (path === manifest) continue;
    if (present.has(path)) {
      if (holds(path, target, scratch)) continue;
      unlinkSync(path);
    }
    const mode = target.mode!;
    writeFileSync(path, target.content, { mode });
    if ((mode & ~umask) !== mode || mode > 0o777) chmodSync(path, mode);
  }
  // A manifest.json that prune found a regular file is the one read above.
  if (!(present.has(manifest) && earlierManifest!.equals(manifestTarget.content))) {
    if (present.has(manifest)) unlinkSync(manifest);
    writeFileSync(manifest, manifestTarget.content);
  }
  return count;
}
