/**
 * The real validators, run as the test suite's judges. A missing validator is a failure with
 * the package to install, never a skipped check.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { RenderedFile } from "../../render/types";
import { scoreUnitFiles } from "../../review/exposure";

export interface ToolResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const PACKAGE_OF: Record<string, string> = {
  "nix-instantiate": "nix-bin",
  "systemd-analyze": "systemd",
  shellcheck: "shellcheck",
  promtool: "prometheus",
};

export function run(tool: string, args: readonly string[], input?: string): ToolResult {
  const result = spawnSync(tool, args, { encoding: "utf8", input, maxBuffer: 64 * 1024 * 1024 });
  if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error(`validator ${tool} is not installed (Debian package ${PACKAGE_OF[tool] ?? tool}); .ci/run installs it`);
  }
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * nix-instantiate, told that there are no build users. Debian's nix-bin defaults
 * `build-users-group` to `nixbld`, a group that only nix-setup-systemd creates, and on a machine
 * without it every call warns on stderr. Parsing and evaluating build nothing, so no build users
 * are needed; the empty-stderr checks stay as strict as they are.
 */
function nixInstantiate(args: readonly string[]): ToolResult {
  return run("nix-instantiate", ["--option", "build-users-group", "", ...args]);
}

/** `nix-instantiate --parse`: syntax and undefined variables. */
export function nixParse(source: string): ToolResult {
  const dir = mkdtempSync(join(tmpdir(), "hf-nix-"));
  try {
    const file = join(dir, "module.nix");
    writeFileSync(file, source);
    return nixInstantiate(["--parse", file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Evaluates a pure Nix expression to JSON (for round-trip tests of the writer). */
export function nixEvalJson(expression: string): unknown {
  const result = nixInstantiate(["--eval", "--strict", "--json", "--readonly-mode", "-E", expression]);
  if (result.status !== 0) throw new Error(`nix-instantiate --eval failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/**
 * `run`, remembered for the test run by the tool, its arguments and its input (in the directory
 * tests/support/globalSetup.js makes): the same text gets the same verdict, so it is checked once
 * per run. Without that directory (a test file run some other way) every call runs the tool.
 */
function runOncePerInput(tool: string, args: readonly string[], input: string): ToolResult {
  const dir = process.env.HOMEFLEET_TEST_TOOL_CACHE;
  if (!dir) return run(tool, args, input);
  const key = createHash("sha256").update(JSON.stringify([tool, ...args])).update("\0").update(input).digest("hex");
  const file = join(dir, `${key}.json`);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as ToolResult;
  } catch {
    // not checked yet in this run: run it (another worker may be checking it too)
  }
  const result = run(tool, args, input);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(result));
  renameSync(tmp, file);
  return result;
}

export function shellcheck(source: string): ToolResult {
  return runOncePerInput("shellcheck", ["--shell=bash", "--severity=style", "-"], source);
}

/**
 * shellcheck on a file as committed: its own shebang or `# shellcheck shell=` directive, and
 * the .shellcheckrc beside it (render/scripts/.shellcheckrc lets it follow lib/ includes).
 */
export function shellcheckFile(path: string): ToolResult {
  return run("shellcheck", ["--severity=style", path]);
}

/** A committed host script, render/scripts/<name>.sh. */
export function hostScriptPath(name: string): string {
  return join(__dirname, "..", "..", "render", "scripts", `${name}.sh`);
}

const EXEC_DIRECTIVE = /^(ExecStart|ExecStartPre|ExecStartPost|ExecStop|ExecStopPost|ExecReload|ExecCondition)=(.*)$/s;

/** The executable of each Exec*= line, with systemd's prefixes (-, +, !, @, :) removed. */
function executablesOf(unitText: string): string[] {
  const out: string[] = [];
  for (const line of unitText.split("\n")) {
    const m = line.match(EXEC_DIRECTIVE);
    if (!m || m[2] === "") continue;
    const exe = m[2].replace(/^[-+!@:]+/, "").split(/\s+/)[0];
    out.push(exe.replace(/^"|"$/g, ""));
  }
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

/**
 * `systemd-analyze verify --root`: the host's rendered files are staged into a root that also
 * holds this machine's own unit directory (for targets and Debian's postgresql@.service). Every
 * executable a unit names must be either a file homefleet renders or a real binary installed on
 * this machine from the same Debian package the host gets; nothing is stubbed.
 * systemd-analyze prints warnings and still exits 0, so any output at all is a failure.
 */
export function verifyUnits(files: readonly RenderedFile[]): ToolResult & { units: string[] } {
  return withStagedRoot(files, (root, units) => ({ ...run("systemd-analyze", ["verify", "--man=no", "--generators=no", `--root=${root}`, ...units]), units }));
}

/**
 * `systemd-analyze security --offline=true` of each service homefleet writes: the exposure
 * score (0-10) systemd computes from the unit file. The review measures it the same way.
 */
export function exposureScores(files: readonly RenderedFile[]): Map<string, number> {
  const scores = scoreUnitFiles(files);
  for (const f of files) {
    const unit = f.path.match(/^\/etc\/systemd\/system\/([^/]+\.service)$/)?.[1];
    if (unit && !scores.has(unit)) throw new Error(`no exposure level for ${unit}`);
  }
  return scores;
}

function withStagedRoot<T>(files: readonly RenderedFile[], use: (root: string, units: string[]) => T | (ToolResult & { units: string[] })): T {
  const root = mkdtempSync(join(tmpdir(), "hf-verify-"));
  try {
    mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
    cpSync("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
    for (const dir of ["bin", "sbin", "lib"]) symlinkSync(`usr/${dir}`, join(root, dir));
    mkdirSync(join(root, "usr/bin"), { recursive: true });
    mkdirSync(join(root, "usr/sbin"), { recursive: true });
    for (const f of files) {
      const target = join(root, f.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, f.content);
      chmodSync(target, parseInt(f.mode, 8));
    }
    // Top-level units, and the units that homefleet's drop-ins extend (postgresql@15-main.service).
    const units = [
      ...new Set(
        files
          .map((f) => f.path.match(/^\/etc\/systemd\/system\/([^/]+\.(service|timer|socket|path))(\.d\/[^/]+\.conf)?$/)?.[1])
          .filter((u): u is string => !!u),
      ),
    ].sort();
    // The units homefleet writes, and the packaged units its drop-ins extend (their executables too).
    const extended = files.map((f) => f.path.match(/^\/etc\/systemd\/system\/([^/]+)\.d\/[^/]+\.conf$/)?.[1]).filter((u): u is string => !!u);
    const packaged = extended.map((u) => join(root, "usr/lib/systemd/system", u.replace(/@[^.]+\./, "@."))).filter((p) => existsSync(p));
    const unitTexts = walk(join(root, "etc/systemd/system"))
      .concat(packaged)
      .filter((p) => statSync(p).isFile())
      .map((p) => readFileSync(p, "utf8"));
    const missing: string[] = [];
    for (const exe of new Set(unitTexts.flatMap(executablesOf))) {
      const staged = join(root, exe);
      if (existsSync(staged)) continue;
      if (!existsSync(exe)) {
        missing.push(exe);
        continue;
      }
      mkdirSync(dirname(staged), { recursive: true });
      copyFileSync(exe, staged);
      chmodSync(staged, 0o755);
    }
    if (missing.length) {
      return { status: 1, stdout: "", stderr: `executables not rendered and not installed on this machine: ${missing.join(", ")}`, units } as T;
    }
    return use(root, units) as T;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
