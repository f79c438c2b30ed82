import { chmodSync, closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, unlinkSync, writeFileSync, type Stats } from "node:fs";
import { join, relative, resolve } from "node:path";
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
  /** The bytes: encoded when first needed (a file the render index vouches for never needs them). */
  readonly content: Buffer | (() => Buffer);
  /** sha256 of the content, from the host's manifest; undefined for manifest.json (never indexed). */
  readonly sha256?: string;
  /** Permission bits to set; undefined leaves the umask's (manifest.json). */
  readonly mode?: number;
}

function bytesOf(target: Target): Buffer {
  return typeof target.content === "function" ? target.content() : target.content;
}

/**
 * The render index: `<out>/.homefleet-render-index`, written by a render for the next one into
 * the same directory, so that a file or directory nobody changed since costs one lstat instead of
 * reading the file back or listing the directory (as make and rsync trust a file's times).
 *
 * It maps each rendered directory and file (relative to `<out>`) to the signature of what lstat
 * said of it when the render left it (device, inode, size, mode, modification and change times),
 * and each file also to the sha256 of its content then. An entry is trusted only if lstat says
 * exactly the same now: any write, chmod, chown, link, rename or replacement changes the change
 * time (which, unlike the modification time, nobody can set back), and a directory's times change
 * whenever an entry in it is created, removed or renamed, so an unchanged directory holds exactly
 * the entries it held then. Anything that does not match is checked as without an index: the
 * directory is listed, the file is read and compared byte for byte. A missing or unreadable
 * index, one of another format, or one that does not parse is no index at all.
 *
 * A change in the same clock tick as the lstat the index recorded would leave the times as they
 * were, so an entry is recorded only once it has settled: changed more than SETTLE_MS before the
 * render that recorded it started. Anything a render writes is checked the old way once more by
 * the next render, and trusted by the ones after it.
 */
export const RENDER_INDEX = ".homefleet-render-index";
const INDEX_FORMAT = "homefleet-render-index 2";
const SETTLE_MS = 1000;

/**
 * The index as JSON.parse reads it, looked up as it is (no maps built from it): `dirs` maps a
 * directory to its signature followed by the names of the entries the render left in it, `files`
 * a file to its signature followed by its sha256; an empty array where the entry had not
 * settled. Every lookup checks the type of what it finds: an index is only ever a hint.
 */
interface RenderIndex {
  readonly dirs: { readonly [rel: string]: unknown };
  readonly files: { readonly [rel: string]: unknown };
  /** The index file's text, to tell whether it needs writing again. */
  readonly text: string;
}

/** What lstat/fstat says of an entry, as the index records it: device, inode, size, mode, modified and changed (ms, with their fraction). */
function signature(stat: Stats): number[] {
  return [stat.dev, stat.ino, stat.size, stat.mode, stat.mtimeMs, stat.ctimeMs];
}

const SIGNATURE_LENGTH = 6;

/** Whether `record` starts with the signature of `stat` (compared as numbers: JSON keeps them exact). */
function recordedAs(record: unknown, stat: Stats): record is unknown[] {
  return (
    Array.isArray(record) &&
    record[0] === stat.dev &&
    record[1] === stat.ino &&
    record[2] === stat.size &&
    record[3] === stat.mode &&
    record[4] === stat.mtimeMs &&
    record[5] === stat.ctimeMs
  );
}

function parentOf(rel: string): string {
  const slash = rel.lastIndexOf("/");
  return slash < 0 ? "" : rel.slice(0, slash);
}

/** The index an earlier render left in `out`, or undefined if there is none this render can use. */
function readIndex(out: string): RenderIndex | undefined {
  try {
    const file = join(out, RENDER_INDEX);
    if (!lstatSync(file).isFile()) return undefined;
    const text = readFileSync(file, "utf8");
    const { format, dirs, files } = JSON.parse(text) as { format?: unknown; dirs?: unknown; files?: unknown };
    if (format !== INDEX_FORMAT || typeof dirs !== "object" || dirs === null || typeof files !== "object" || files === null) return undefined;
    return { dirs: dirs as RenderIndex["dirs"], files: files as RenderIndex["files"], text };
  } catch {
    return undefined;
  }
}

/**
 * The names the index says directory `rel` held when its lstat said what `stat` says now, or undefined if it
 * says nothing usable of it.
 */
function recordedEntries(index: RenderIndex, rel: string, stat: Stats): readonly string[] | undefined {
  const record = index.dirs[rel];
  if (!recordedAs(record, stat)) return undefined;
  const names = record.slice(SIGNATURE_LENGTH);
  return names.every((n) => typeof n === "string" && n !== "" && n !== "." && n !== ".." && !n.includes("/")) ? (names as string[]) : undefined;
}

/**
 * The bytes of `path` are exactly these, and it is a regular file with these permission bits:
 * returns its fstat then (one open, fstat, read and close; readFileSync would lstat first and
 * read once more to find the end), else undefined.
 */
function holds(path: string, target: Target, scratch: Buffer): Stats | undefined {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const stat = fstatSync(fd);
    const content = bytesOf(target);
    if (!stat.isFile() || stat.size !== content.length) return undefined;
    if (target.mode !== undefined && (stat.mode & 0o7777) !== target.mode) return undefined;
    const length = content.length;
    return readSync(fd, scratch, 0, length, 0) === length && scratch.subarray(0, length).equals(content) ? stat : undefined;
  } finally {
    closeSync(fd);
  }
}

/** A path below the output directory, as `<host><absolute path>` is when it needs no normalising (no `/.` in it either). */
const PLAIN_RELATIVE = /^[^/.][^/]*(\/[^/]+)+$/;

/**
 * Writes every host's files under `<out>/<host>/<absolute path>` and `<out>/manifest.json`.
 * A previous render in `out` is replaced whole, so two renders of the same config are identical
 * trees (apart from the render index, above); any other non-empty directory is refused rather
 * than mixed into.
 *
 * Replacing an earlier render updates it in place: files that are already there byte for byte,
 * mode included, are left alone, and only stale, changed and new files are removed or written.
 * Deleting and recreating thousands of unchanged files was most of the time of a re-render.
 * A changed file is unlinked before it is written, so a hard link to the old file keeps the old
 * bytes, as it did when the whole tree was deleted.
 *
 * `now` is the clock the index's settling time is measured with (tests move it forward).
 */
export function writeRender(render: FleetRender, outDir: string, now: () => number = Date.now): number {
  const settledBefore = now() - SETTLE_MS;
  const out = resolve(outDir);
  const manifest = join(out, "manifest.json");
  const manifestBytes = Buffer.from(fleetManifestJson(render));
  const earlier = existsSync(out) && readdirSync(out).length > 0;
  const earlierManifest = earlier ? homefleetManifest(out, manifestBytes) : undefined;
  if (earlier && !earlierManifest) {
    throw new Error(`${out} is not empty and holds no homefleet render (no manifest.json written by homefleet); choose an empty or new directory`);
  }
  // Relative paths ("<host>/etc/..."): the index's keys, and cheaper to build than joined ones.
  const targets = new Map<string, Target>();
  // Hosts share many files byte for byte (the host scripts above all): each text is encoded once.
  const encoded = new Map<string, Buffer>();
  const encode = (text: string): Buffer => {
    let bytes = encoded.get(text);
    if (!bytes) encoded.set(text, (bytes = Buffer.from(text)));
    return bytes;
  };
  let count = 0;
  let longest = 0;
  for (const bundle of render.bundles) {
    const listed = bundle.manifest.files;
    bundle.files.forEach((file, i) => {
      let rel = bundle.host.name + file.path;
      if (!(rel.indexOf("/.") < 0 && PLAIN_RELATIVE.test(rel))) rel = relative(out, join(out, bundle.host.name, file.path));
      targets.set(rel, { content: () => encode(file.content), sha256: listed[i].sha256, mode: parseInt(file.mode, 8) });
      longest = Math.max(longest, listed[i].size);
      count++;
    });
  }
  const manifestRel = "manifest.json";
  targets.set(manifestRel, { content: manifestBytes });

  const dirs = new Set<string>();
  for (const rel of targets.keys()) {
    for (let dir = parentOf(rel); dir !== "" && !dirs.has(dir); dir = parentOf(dir)) dirs.add(dir);
  }

  const index = earlier ? readIndex(out) : undefined;
  /** Files that are there already as regular files, directories that stay (with their lstat signature). */
  const present = new Set<string>();
  const kept = new Map<string, Stats>();
  /** Directories whose entries this render changes: their lstat from before says nothing of after. */
  const changed = new Set<string>();
  /** Whether anything was found other than as the index says (then the index is written again). */
  let unindexed = false;
  const remove = (rel: string, abs: string): void => {
    rmSync(abs, { recursive: true, force: true });
    changed.add(parentOf(rel));
  };
  /**
   * Removes from the earlier render in the directory `rel` everything that is not a file of the
   * new one: stale files, symlinks and other non-files, directories nothing goes into. Collects
   * the target files that are there already, and the directories that stay.
   */
  const prune = (rel: string, abs: string): void => {
    const stat = rel === "" ? undefined : lstatSync(abs);
    if (stat) kept.set(rel, stat);
    const recorded = stat && index ? recordedEntries(index, rel, stat) : undefined;
    if (recorded) {
      // Unchanged since the earlier render left it: it holds just the entries that render made.
      const prefix = `${rel}/`;
      for (const name of recorded) {
        const path = prefix + name;
        if (dirs.has(path) && Array.isArray(index!.dirs[path])) prune(path, `${abs}/${name}`);
        else if (targets.has(path) && Array.isArray(index!.files[path])) present.add(path);
        else remove(path, `${abs}/${name}`);
      }
      return;
    }
    if (rel !== "") unindexed = true;
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory() && dirs.has(path)) prune(path, `${abs}/${entry.name}`);
      else if (entry.isFile() && (targets.has(path) || path === RENDER_INDEX)) present.add(path);
      else remove(path, `${abs}/${entry.name}`);
    }
  };
  if (earlier) prune("", out);

  // Each missing directory is made once, parents first (a parent's path is shorter).
  mkdirSync(out, { recursive: true });
  for (const dir of [...dirs].filter((d) => !kept.has(d)).sort((a, b) => a.length - b.length)) {
    mkdirSync(`${out}/${dir}`);
    changed.add(parentOf(dir));
  }
  // A new file gets its mode from open(2), less the umask: chmod only where the umask takes bits
  // away (0644 and 0755 under the usual 022 need none: most of 4800 files for 200 hosts).
  const umask = process.umask();
  // One buffer to read back every earlier file into, instead of one per file.
  const scratch = Buffer.allocUnsafe(longest);
  const settled = (stat: Stats): boolean => stat.ctimeMs < settledBefore;
  /** What the index is to say of each file: its signature and sha256, or nothing (not settled). */
  const fileSignatures = new Map<string, readonly unknown[]>();
  const unsettled: readonly unknown[] = [];
  for (const [rel, target] of targets) {
    // manifest.json last: until it is written, the directory still says what it held before.
    if (rel === manifestRel) continue;
    const path = `${out}/${rel}`;
    if (present.has(rel)) {
      const recorded = index?.files[rel];
      if (Array.isArray(recorded) && recorded.length > 0) {
        const stat = lstatSync(path);
        if (recordedAs(recorded, stat) && recorded[SIGNATURE_LENGTH] === target.sha256 && recorded.length === SIGNATURE_LENGTH + 1 && (stat.mode & 0o7777) === target.mode) {
          fileSignatures.set(rel, recorded);
          continue;
        }
      }
      unindexed = true;
      const stat = holds(path, target, scratch);
      if (stat) {
        fileSignatures.set(rel, settled(stat) ? [...signature(stat), target.sha256] : unsettled);
        continue;
      }
      unlinkSync(path);
    }
    const mode = target.mode!;
    writeFileSync(path, bytesOf(target), { mode });
    if ((mode & ~umask) !== mode || mode > 0o777) chmodSync(path, mode);
    changed.add(parentOf(rel));
    fileSignatures.set(rel, unsettled);
  }
  // A manifest.json that prune found a regular file is the one read above.
  if (!(present.has(manifestRel) && earlierManifest!.equals(manifestBytes))) {
    if (present.has(manifestRel)) unlinkSync(manifest);
    writeFileSync(manifest, manifestBytes);
  }
  // Everything as the index said, nothing removed or made: it says all there is to say.
  if (!(index && !unindexed && changed.size === 0)) writeIndex(out, index, dirs, kept, changed, fileSignatures, settledBefore);
  return count;
}

/**
 * Writes the render index for the next render (when it says anything an earlier one did not):
 * the directories this render found and left as they were, with the names of their entries, and
 * the files it found right, with what lstat said of them; every other entry by name only. An
 * index that would trust nothing is not written, and one an earlier render left is then removed.
 */
function writeIndex(out: string, earlier: RenderIndex | undefined, dirs: ReadonlySet<string>, kept: ReadonlyMap<string, Stats>, changed: ReadonlySet<string>, files: ReadonlyMap<string, readonly unknown[]>, settledBefore: number): void {
  let trusted = 0;
  const dirRecord: Record<string, unknown[]> = {};
  for (const dir of dirs) {
    const stat = kept.get(dir);
    const ok = stat !== undefined && !changed.has(dir) && stat.ctimeMs < settledBefore;
    dirRecord[dir] = ok ? signature(stat!) : [];
    if (ok) trusted++;
  }
  const fileRecord: Record<string, readonly unknown[]> = {};
  for (const [rel, record] of files) {
    fileRecord[rel] = record;
    if (record.length > 0) trusted++;
  }
  const file = join(out, RENDER_INDEX);
  if (trusted === 0) {
    if (earlier) rmSync(file, { force: true });
    return;
  }
  // Each entry under the directory that holds it (every rendered directory and file is one); a
  // directory that had not settled is listed anyway, so its entries are not recorded.
  for (const rel of [...dirs, ...files.keys()]) {
    const parent = parentOf(rel);
    if (parent !== "" && dirRecord[parent].length > 0) dirRecord[parent].push(rel.slice(parent.length + 1));
  }
  const text = JSON.stringify({ format: INDEX_FORMAT, dirs: dirRecord, files: fileRecord });
  if (earlier?.text === text) return;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
