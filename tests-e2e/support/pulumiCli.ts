/**
 * The real Pulumi CLI (built from Go modules by tools/pulumi-toolchain/build.sh) running the
 * homefleet program, with a file backend in a temporary folder. The project folder mirrors the
 * repository through symlinks, so the stack files that `pulumi stack init` writes land there and
 * not in the checkout; the program itself is the repository's, started by bin/pulumi-program.js as
 * for a user (compiled by `npm ci`, or its sources through ts-node where they changed since).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { homefleetRoot } from "../../config/packageRoot";

// Found from package.json: this file also runs compiled, under dist/ (bench/preview.bench.ts).
const ROOT = homefleetRoot();
const PROJECT = "homefleet";

let toolchain: string | undefined;

/** The folder with `pulumi`, its Node.js language host and the dynamic-provider host. */
export function toolchainBin(): string {
  if (toolchain) return toolchain;
  const r = spawnSync("bash", [join(ROOT, "tools", "pulumi-toolchain", "build.sh")], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tools/pulumi-toolchain/build.sh failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  toolchain = r.stdout.trim().split("\n").pop()!;
  return toolchain;
}

export interface CliRun {
  readonly args: readonly string[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

export interface RunOptions {
  readonly stdin?: string;
  readonly timeoutSec?: number;
  /** Called with each chunk of stdout, e.g. to interrupt the CLI at a given point. */
  readonly onStdout?: (chunk: string, child: ChildProcess) => void;
  /** Extra environment for this run (e.g. PULUMI_DEBUG_COMMANDS, which unlocks --event-log). */
  readonly env?: NodeJS.ProcessEnv;
}

/** What the CLI said went wrong: its error lines and its Diagnostics section, not the whole output. */
export function diagnostics(r: Pick<CliRun, "stdout" | "stderr">): string {
  const out = r.stdout;
  const start = out.indexOf("Diagnostics:");
  const end = start < 0 ? -1 : out.search(/\n\s*(Outputs|Resources):\n/);
  const section = start < 0 ? "" : out.slice(start, end > start ? end : start + 8000);
  const errors = [...new Set(out.split("\n").filter((l) => /error|failed/i.test(l)))].join("\n");
  return `${errors}\n${section}\n${r.stderr.slice(-3000)}`;
}

export class PulumiProject {
  readonly dir: string;
  readonly backend: string;
  readonly env: NodeJS.ProcessEnv;
  readonly runs: CliRun[] = [];

  constructor(label: string) {
    const base = mkdtempSync(join(tmpdir(), `hf-pulumi-${label}-`));
    this.dir = join(base, "project");
    this.backend = join(base, "state");
    mkdirSync(this.dir);
    mkdirSync(this.backend);
    mkdirSync(join(base, "home"));
    // Everything but the checkout's own stack files and git metadata.
    for (const entry of readdirSync(ROOT)) {
      if (entry === ".git" || (/^Pulumi\..+\.yaml$/.test(entry) && entry !== "Pulumi.yaml")) continue;
      symlinkSync(join(ROOT, entry), join(this.dir, entry));
    }
    this.env = {
      ...process.env,
      PATH: `${toolchainBin()}:${process.env.PATH}`,
      PULUMI_HOME: join(base, "home"),
      PULUMI_BACKEND_URL: `file://${this.backend}`,
      PULUMI_CONFIG_PASSPHRASE: "homefleet-e2e-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      // `npm run build` (tsc) type-checks the program; ts-node only has to transpile it.
      PULUMI_NODEJS_TRANSPILE_ONLY: "true",
      NO_COLOR: "1",
    };
  }

  /** Runs `pulumi ARGS` in the project folder; never throws on a non-zero exit. */
  run(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn("pulumi", [...args], { cwd: this.dir, env: { ...this.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), (options.timeoutSec ?? 600) * 1000);
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        options.onStdout?.(d.toString(), child);
      });
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        const run = { args, code, signal, stdout, stderr, seconds: (Date.now() - started) / 1000 };
        this.runs.push(run);
        resolve(run);
      });
      child.stdin.end(options.stdin ?? "");
    });
  }

  /** Like run, but a non-zero exit throws with the CLI's output. */
  async ok(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
    const r = await this.run(args, options);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code ?? r.signal}:\n${diagnostics(r)}`);
    return r;
  }

  stackFile(stack: string): string {
    return join(this.dir, `Pulumi.${stack}.yaml`);
  }

  /** The stack's checkpoint in the file backend: what Pulumi stores as state. */
  stateFile(stack: string): string {
    return join(this.backend, ".pulumi", "stacks", PROJECT, `${stack}.json`);
  }

  /** Creates the stack with the SSH key as an encrypted secret (from stdin, never a command line). */
  async initStack(stack: string, config: Record<string, unknown>, privateKeyFile: string): Promise<void> {
    await this.ok(["stack", "init", stack]);
    await this.ok(["config", "set", "--stack", stack, "--secret", "homefleet:sshPrivateKey"], { stdin: readFileSync(privateKeyFile, "utf8") });
    this.setConfig(stack, config);
  }

  /** Replaces the stack's plain config values (objects as YAML), keeping its encrypted ones. */
  setConfig(stack: string, config: Record<string, unknown>): void {
    const file = this.stackFile(stack);
    const doc = parseDocument(readFileSync(file, "utf8"));
    for (const [key, value] of Object.entries(config)) doc.setIn(["config", key], value);
    writeFileSync(file, doc.toString());
  }

  /** `pulumi stack output --json` (secrets shown only when asked). */
  async outputs(stack: string, showSecrets = false): Promise<Record<string, any>> {
    const r = await this.ok(["stack", "output", "--stack", stack, "--json", ...(showSecrets ? ["--show-secrets"] : [])]);
    return JSON.parse(r.stdout);
  }

  /** Every file the project holds outside the checkout: state, stack files, plugin home. */
  cleanup(): void {
    if (process.env.HOMEFLEET_E2E_KEEP === "1") return;
    rmSync(join(this.dir, ".."), { recursive: true, force: true });
  }
}
