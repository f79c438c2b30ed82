import { chmodSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, unlinkSync, writeFileSync, type Stats } from "node:fs";
import { join, relative, resolve } from "node:path";
import { buildHostBundle, fleetManifestJson, fleetRenderKey, fleetWarnings, hostRenderKey, sha256, type ContentDigests, type FleetRender, type HostManifest } from "../bundle/hostBundle";
import type { FleetConfig } from "../config/load";
import { buildFleetModel } from "../model/build";
import { canWriteInBackground, startBackgroundWriter } from "./backgroundWriter";
import type { HostModel } from "../model/specs";
import type { RenderedFile } from "../render/types";

/** The bytes of `dir/manifest.json`, or undefined if there is no such file to read. */
function readManifest(dir: string): Buffer | undefined {
  try {
    return readFileSync(join(dir, "manifest.json"));
  } catch {
    return undefined;
  }
}

/** A manifest.json as JSON.parse reads it: only ever a hint, every part is checked where it is used. */
interface ParsedManifest {
  readonly generator?: unknown;
  readonly hosts?: unknown;
}

/**
 * The earlier manifest.json, parsed once when first needed (for 200 hosts it is 2.2 MB, and
 * parsing it took ~20 ms of a re-render); undefined where there is none or it is not JSON.
 */
function manifestParser(bytes: Buffer | undefined): () => ParsedManifest | undefined {
  let parsed: ParsedManifest | null | undefined;
  return () => {
    if (parsed === undefined) {
      try {
        parsed = bytes ? (JSON.parse(bytes.toString("utf8")) as ParsedManifest | null) ?? null : null;
      } catch {
        parsed = null;
      }
    }
    return parsed ?? undefined;
  };
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
 *
 * The index also records each host's render key (bundle/hostBundle.ts: a digest of the host's
 * model and of the code that renders it) and the sha256 of the manifest.json written with it.
 * A render whose key for a host is the one recorded, while manifest.json is still that file,
 * does not render the host again when every file of the host's manifest is as the index
 * recorded it: the files are what that model renders to, and the manifest says what they are.
 * A host whose model changed, or one file of which is not as recorded, is rendered and checked
 * as before.
 */
export const RENDER_INDEX = ".homefleet-render-index";
const INDEX_FORMAT = "homefleet-render-index 3";
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
  /** Each host's render key, as rendered into the manifest.json whose sha256 is `manifest`. */
  readonly hosts: { readonly [host: string]: unknown };
  /** The fleet's render key. */
  readonly fleet: unknown;
  readonly manifest: unknown;
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

/**
 * The index's record of the file at `path` (`rel` in the index) if the file is exactly as recorded
 * there: lstat says what the record says, and the record's sha256 and the file's permission bits
 * are the ones expected. Such a file is trusted without being read.
 */
function indexedRecord(index: RenderIndex | undefined, path: string, rel: string, sha256: string | undefined, mode: number | undefined): unknown[] | undefined {
  const found = indexed(index, path, rel, sha256, mode);
  return found === OTHER ? undefined : found;
}

/** What the index knows the file holds is not what is expected: its content or its mode is another. */
const OTHER = "other";

/**
 * As indexedRecord, and OTHER where the file is exactly as the index recorded it but what was
 * recorded (its sha256, or its permission bits) is not what is expected: such a file is replaced
 * without being read back.
 */
function indexed(index: RenderIndex | undefined, path: string, rel: string, sha256: string | undefined, mode: number | undefined): unknown[] | typeof OTHER | undefined {
  const recorded = index?.files[rel];
  if (!Array.isArray(recorded) || recorded.length !== SIGNATURE_LENGTH + 1 || typeof recorded[SIGNATURE_LENGTH] !== "string") return undefined;
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch {
    return undefined;
  }
  if (!recordedAs(recorded, stat)) return undefined;
  return recorded[SIGNATURE_LENGTH] === sha256 && (stat.mode & 0o7777) === mode ? recorded : OTHER;
}

function parentOf(rel: string): string {
  const slash = rel.lastIndexOf("/");
  return slash < 0 ? "" : rel.slice(0, slash);
}

/** The directories above `rel` that `seen` does not hold yet, parents first; each is added to `seen`. */
function newParents(rel: string, seen: Set<string>): string[] {
  const found: string[] = [];
  for (let dir = parentOf(rel); dir !== "" && !seen.has(dir); dir = parentOf(dir)) {
    seen.add(dir);
    found.push(dir);
  }
  return found.reverse();
}

/** The index an earlier render left in `out`, or undefined if there is none this render can use. */
function readIndex(out: string): RenderIndex | undefined {
  try {
    const file = join(out, RENDER_INDEX);
    if (!lstatSync(file).isFile()) return undefined;
    const text = readFileSync(file, "utf8");
    const { format, dirs, files, hosts, manifest, fleet } = JSON.parse(text) as { format?: unknown; dirs?: unknown; files?: unknown; hosts?: unknown; manifest?: unknown; fleet?: unknown };
    if (format !== INDEX_FORMAT || typeof dirs !== "object" || dirs === null || typeof files !== "object" || files === null) return undefined;
    const hostKeys = typeof hosts === "object" && hosts !== null ? (hosts as RenderIndex["hosts"]) : {};
    return { dirs: dirs as RenderIndex["dirs"], files: files as RenderIndex["files"], hosts: hostKeys, manifest, fleet, text };
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

/** `<host><absolute path>`: a host's file as a path relative to the output directory. */
function relativeTarget(out: string, host: string, path: string): string {
  const rel = host + path;
  return rel.indexOf("/.") < 0 && PLAIN_RELATIVE.test(rel) ? rel : relative(out, join(out, host, path));
}

/** A host as a render writes it. */
interface PlannedHost {
  readonly host: HostModel;
  readonly manifest: HostManifest;
  /**
   * Its files as rendered now, in its manifest's order; undefined for a host kept from the
   * earlier render, whose files are on disk as its manifest lists them (found so by `keep`).
   */
  readonly files?: readonly RenderedFile[];
  /** Its render key, recorded in the index for the next render; undefined where there is none. */
  readonly key?: string;
}

/** What a render found of the render before it in the same directory. */
interface EarlierRender {
  readonly index?: RenderIndex;
  /** The earlier manifest.json's bytes, and what they parse to. */
  readonly manifest?: Buffer;
  readonly parsedManifest: () => ParsedManifest | undefined;
  /** Whether manifest.json is the file the index was written with (its sha256 is the one recorded). */
  readonly indexedManifest: boolean;
}

/**
 * What a render decides host by host, given what it found: `keep(host, manifest)` is true, and
 * lets the host's earlier files stand, if every file `manifest` lists is exactly as the index
 * recorded it, with the sha256 the manifest gives.
 */
type HostPlanner = (earlier: EarlierRender, keep: (host: string, manifest: HostManifest) => boolean, rendered: RenderedHost) => RenderPlan;

/** Told of each host as soon as it is rendered, before the next one is (its files may be written meanwhile). */
type RenderedHost = (host: string, manifest: HostManifest, files: readonly RenderedFile[]) => void;

interface RenderPlan {
  readonly hosts: readonly PlannedHost[];
  /** The fleet's render key, recorded in the index for the next render; undefined where there is none. */
  readonly fleet?: string;
}

export interface RenderOutcome {
  /** Files written or found right, manifest.json not counted. */
  readonly count: number;
  /** Each host with its number of files, and whether its files were kept from the earlier render without rendering it. */
  readonly hosts: readonly { readonly name: string; readonly files: number; readonly kept: boolean }[];
}

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
  return writeFleet(outDir, now, false, () => ({ hosts: render.bundles.map((b) => ({ host: b.host, manifest: b.manifest, files: b.files })) })).count;
}

/**
 * Renders the fleet into `outDir` as writeRender writes a render, rendering only the hosts the
 * earlier render there cannot stand for (see the render index above). `codeIdentity` names the
 * build of homefleet that runs (the CLI bundle's build id): without one, every host is rendered
 * and no render key recorded. The model is built here, from `config`, because the fleet's render
 * key stands for it; `warn` is given the model's warnings before anything is written.
 */
export function renderInto(
  config: FleetConfig,
  outDir: string,
  options: { readonly codeIdentity?: string; readonly now?: () => number; readonly warn?: (warnings: readonly string[]) => void } = {},
): RenderOutcome {
  const { codeIdentity } = options;
  const model = buildFleetModel(config);
  // Said before anything is written: a render that then fails (a foreign directory) still shows them.
  options.warn?.(fleetWarnings(model));
  const background = model.hosts.length >= BACKGROUND_WRITE_HOSTS && canWriteInBackground();
  return writeFleet(outDir, options.now ?? Date.now, background, (earlier, keep, rendered) => {
    // Keys are for the next render into the same directory, which an index tells about: a new
    // directory's render records none (nothing it writes has settled), so it computes none.
    const keyed = codeIdentity !== undefined && (earlier.index !== undefined || earlier.manifest !== undefined) ? codeIdentity : undefined;
    const fleet = keyed ? fleetRenderKey(config, keyed) : undefined;
    const recorded = earlier.index?.hosts;
    // The same config and code: the same model, and the same host keys as recorded then.
    const sameFleet = fleet !== undefined && earlier.index?.fleet === fleet;
    // Parsed (2.2 MB for 200 hosts) only once a host's key is the one recorded: after an edit to
    // every host, or a new build, none is.
    let earlierHosts: ReturnType<typeof manifestsToKeep> | null = null;
    const earlierManifestOf = (name: string): HostManifest | undefined => {
      if (earlierHosts === null) earlierHosts = manifestsToKeep(earlier);
      return earlierHosts?.[name];
    };
    const digests: ContentDigests = new Map();
    const hosts = model.hosts.map((host): PlannedHost => {
      const recordedKey = recorded?.[host.name];
      const key = !keyed ? undefined : sameFleet && typeof recordedKey === "string" ? recordedKey : hostRenderKey(host, keyed);
      const manifest = key !== undefined && recordedKey === key ? earlierManifestOf(host.name) : undefined;
      if (manifest && keep(host.name, manifest)) return { host, manifest, key };
      const bundle = buildHostBundle(host, digests);
      rendered(host.name, bundle.manifest, bundle.files);
      return { host, manifest: bundle.manifest, files: bundle.files, key };
    });
    return { hosts, fleet };
  });
}

/**
 * The host manifests of the earlier manifest.json, where it is the file the index was written
 * with (its sha256 is the one recorded); else undefined, and no host is kept.
 */
function manifestsToKeep(earlier: EarlierRender): Readonly<Record<string, HostManifest | undefined>> | undefined {
  if (!earlier.indexedManifest) return undefined;
  const hosts = earlier.parsedManifest()?.hosts;
  return typeof hosts === "object" && hosts !== null ? (hosts as Record<string, HostManifest>) : undefined;
}

/**
 * The files of a kept host, rendered when first asked for (then `onRender` is called); they must
 * be what its manifest lists.
 */
function renderedOnDemand(planned: PlannedHost, onRender: () => void): () => readonly RenderedFile[] {
  let files: readonly RenderedFile[] | undefined;
  return () => {
    if (!files) {
      const bundle = buildHostBundle(planned.host);
      if (bundle.manifest.sha256 !== planned.manifest.sha256) throw new Error(`host ${planned.host.name}: its render differs from the earlier render of the same model (render key ${planned.key})`);
      files = bundle.files;
      onRender();
    }
    return files;
  };
}

/**
 * From how many hosts a render into a new directory writes on a helper thread: below that, its
 * start (a few ms of this thread, ~25 ms of another) costs more than the writing it takes over.
 */
const BACKGROUND_WRITE_HOSTS = 16;

/** Whether the directory `out` holds anything (false where there is none yet); a file where it should be is refused by name. */
function holdsAnything(out: string): boolean {
  try {
    return readdirSync(out).length > 0;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return false;
    if (code === "ENOTDIR") throw new Error(`${out} is not a directory (it, or a directory it would be in, is a file); choose an empty or new directory`);
    throw err;
  }
}

/**
 * `background`: a new or empty directory is written on a helper thread, from what `plan` hands to
 * its `rendered` callback; so a planner that asks for it must hand over every host it renders
 * (renderInto's does, and keeps none where there is no earlier render).
 */
function writeFleet(outDir: string, now: () => number, background: boolean, plan: HostPlanner): RenderOutcome {
  const settledBefore = now() - SETTLE_MS;
  const out = resolve(outDir);
  const manifest = join(out, "manifest.json");
  const earlier = holdsAnything(out);
  // Into a new or empty directory nothing is compared or kept: each host's files are written as
  // soon as it is rendered, on a helper thread, while the next host renders.
  const writer = earlier || !background ? undefined : (mkdirSync(out, { recursive: true }), startBackgroundWriter());
  const made = new Set<string>();
  const writeHost: RenderedHost = (host, listed, files) => {
    if (!writer) return;
    const dirs: string[] = [];
    const queued = listed.files.map((file, i) => {
      const rel = relativeTarget(out, host, file.path);
      for (const dir of newParents(rel, made)) dirs.push(`${out}/${dir}`);
      return { path: `${out}/${rel}`, hostPath: file.path, content: files[i].content, mode: parseInt(file.mode, 8) };
    });
    writer.write(dirs, queued);
  };
  const earlierManifest = earlier ? readManifest(out) : undefined;
  const index = earlier ? readIndex(out) : undefined;

  /** Files of kept hosts, found as the index recorded them: the record to keep for each. */
  const vouched = new Map<string, readonly unknown[]>();
  const keep = (host: string, listed: HostManifest): boolean => {
    if (!index || !Array.isArray(listed?.files)) return false;
    const found: [string, unknown[]][] = [];
    for (const file of listed.files) {
      if (typeof file?.path !== "string" || typeof file.mode !== "string") return false;
      const rel = relativeTarget(out, host, file.path);
      const recorded = indexedRecord(index, `${out}/${rel}`, rel, file.sha256, parseInt(file.mode, 8));
      if (!recorded) return false;
      found.push([rel, recorded]);
    }
    for (const [rel, recorded] of found) vouched.set(rel, recorded);
    return true;
  };
  const indexedManifest = index !== undefined && earlierManifest !== undefined && typeof index.manifest === "string" && index.manifest === sha256(earlierManifest);
  const earlierRender: EarlierRender = { index, manifest: earlierManifest, parsedManifest: manifestParser(earlierManifest), indexedManifest };
  let rendered: RenderPlan;
  try {
    rendered = plan(earlierRender, keep, writeHost);
  } catch (err) {
    // A render that fails halfway leaves the directory as it found it (empty), not a tree
    // without manifest.json that the next render would refuse as someone else's.
    if (writer) {
      try {
        writer.finish();
      } catch {
        // the render's own failure is the one to report
      }
      for (const entry of readdirSync(out)) rmSync(join(out, entry), { recursive: true, force: true });
    }
    throw err;
  }
  const { hosts, fleet } = rendered;

  const manifestBytes = Buffer.from(fleetManifestJson({ bundles: hosts }));
  const sameManifest = earlierManifest !== undefined && earlierManifest.equals(manifestBytes);
  // A directory that holds something must hold a homefleet render (any other project may have a
  // manifest.json): one with exactly the bytes this render writes is, and so is the one the
  // render index was written with, without parsing either; any other manifest.json must say so.
  if (earlier && !(sameManifest || indexedManifest || earlierRender.parsedManifest()?.generator === "homefleet")) {
    throw new Error(`${out} is not empty and holds no homefleet render (no manifest.json written by homefleet); choose an empty or new directory`);
  }
  if (writer) {
    writer.finish();
    // manifest.json last, as below. Nothing written has settled, so there is no index to write.
    writeFileSync(manifest, manifestBytes);
    return { count: hosts.reduce((n, h) => n + h.manifest.files.length, 0), hosts: hosts.map((h) => ({ name: h.host.name, files: h.manifest.files.length, kept: false })) };
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
  /** Kept hosts whose files had to be written after all. */
  const renderedLate = new Set<string>();
  for (const planned of hosts) {
    const listed = planned.manifest.files;
    const name = planned.host.name;
    // A kept host's files were all found right: none of them is read or written, so none needs
    // its content. Should one be (something changed it since), the host is rendered then, and
    // must render to what the manifest says.
    const rendered = planned.files;
    const files = rendered ? () => rendered : renderedOnDemand(planned, () => renderedLate.add(name));
    listed.forEach((file, i) => {
      const rel = relativeTarget(out, name, file.path);
      targets.set(rel, { content: () => encode(files()[i].content), sha256: file.sha256, mode: parseInt(file.mode, 8) });
      longest = Math.max(longest, file.size);
      count++;
    });
  }
  const manifestRel = "manifest.json";
  targets.set(manifestRel, { content: manifestBytes });

  const dirs = new Set<string>();
  for (const rel of targets.keys()) newParents(rel, dirs);

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
      // Found as the index recorded it already (a kept host's file).
      const vouchedFor = vouched.get(rel);
      if (vouchedFor) {
        fileSignatures.set(rel, vouchedFor);
        continue;
      }
      const recorded = indexed(index, path, rel, target.sha256, target.mode);
      if (recorded && recorded !== OTHER) {
        fileSignatures.set(rel, recorded);
        continue;
      }
      unindexed = true;
      const stat = recorded === OTHER ? undefined : holds(path, target, scratch);
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
  const manifestUnchanged = present.has(manifestRel) && sameManifest;
  if (!manifestUnchanged) {
    if (present.has(manifestRel)) unlinkSync(manifest);
    writeFileSync(manifest, manifestBytes);
  }
  const hostKeys: Record<string, string> = {};
  for (const planned of hosts) if (planned.key !== undefined) hostKeys[planned.host.name] = planned.key;
  // Everything as the index said, nothing removed or made, the same manifest and keys: it says all there is to say.
  const sameKeys = index !== undefined && index.fleet === fleet && Object.keys(index.hosts).length === Object.keys(hostKeys).length && Object.keys(hostKeys).every((h) => index.hosts[h] === hostKeys[h]);
  if (!(index && !unindexed && changed.size === 0 && manifestUnchanged && sameKeys)) {
    writeIndex(out, index, { dirs, kept, changed, files: fileSignatures, hosts: hostKeys, fleet, manifest: manifestBytes }, settledBefore);
  }
  return { count, hosts: hosts.map((h) => ({ name: h.host.name, files: h.manifest.files.length, kept: h.files === undefined && !renderedLate.has(h.host.name) })) };
}

/** What the next render is to know of this one. */
interface IndexContent {
  /** Every rendered directory; those this render found and left as they were, with their lstat. */
  readonly dirs: ReadonlySet<string>;
  readonly kept: ReadonlyMap<string, Stats>;
  /** Directories whose entries this render changed. */
  readonly changed: ReadonlySet<string>;
  /** Every rendered file, with its signature and sha256, or nothing (not settled). */
  readonly files: ReadonlyMap<string, readonly unknown[]>;
  /** Each host's render key, and the fleet's. */
  readonly hosts: Readonly<Record<string, string>>;
  readonly fleet?: string;
  /** The manifest.json written. */
  readonly manifest: Buffer;
}

/**
 * Writes the render index for the next render (when it says anything an earlier one did not):
 * the directories this render found and left as they were, with the names of their entries, and
 * the files it found right, with what lstat said of them; every other entry by name only. An
 * index that would trust nothing is not written, and one an earlier render left is then removed.
 */
function writeIndex(out: string, earlier: RenderIndex | undefined, content: IndexContent, settledBefore: number): void {
  const { dirs, kept, changed, files } = content;
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
  const text = JSON.stringify({ format: INDEX_FORMAT, manifest: sha256(content.manifest), fleet: content.fleet, hosts: content.hosts, dirs: dirRecord, files: fileRecord });
  if (earlier?.text === text) return;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
