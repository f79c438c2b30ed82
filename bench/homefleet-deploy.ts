/**
 * The deploy benchmark's homefleet deployer as a process, timed from spawn to exit like the plain
 * script and Ansible: node starts, loads the deployer, runs deployHost() (deploy/deployHost.ts) for
 * every host in parallel and exits. No Pulumi engine: this is the deployer alone.
 *
 *   node dist/bench/homefleet-deploy.js BUNDLE_DIR HOSTS_JSON [create|update [PREVIOUS_BUNDLE_DIR]]
 *
 * BUNDLE_DIR/rendered.json holds the rendered files and the manifest (bench/deployWorkload.ts);
 * HOSTS_JSON is [{name, address, hostKey, keyFile, generation?}]; `create` deploys as the provider's create
 * does (the hosts are new to it: DeployOptions.firstDeployment, nothing expected on them), `update` (the default) as its
 * update, which knows from Pulumi's state what it deployed last: the manifest in PREVIOUS_BUNDLE_DIR, confirmed as
 * each host's `generation` (DeployOptions.expected). With HOMEFLEET_BENCH_TIMINGS=1 it also times
 * each SSH command, and the deploy lock's command until it holds the lock (by wrapping
 * HostSession's methods in this process, no change to deploy/).
 * Prints one JSON object on stdout: {startMs, results, commands}; exits 1 when a host fails.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { HostManifest } from "../bundle/hostBundle";
import { deployHost } from "../deploy/deployHost";
import { HostSession, type SshTarget } from "../deploy/ssh";
import type { RenderedFile } from "../render/types";

/** The health gate's budget; the workload has no health checks beyond its units being active. */
export const HEALTH_TIMEOUT_SEC = 60;
/**
 * How long the health gate holds every check passing before it confirms. A stack's
 * deploy.healthSoakSec defaults to 30 s: a wait on purpose, not work, which the other deployers
 * do not have; the benchmark sets none (and says so in its report), so it compares the work.
 */
export const HEALTH_SOAK_SEC = 0;

export interface BenchHostTarget {
  readonly name: string;
  readonly address: string;
  readonly hostKey: string;
  readonly keyFile: string;
  /** The generation this deployer left the host on last (as Pulumi's state records it). */
  readonly generation?: number;
}

/** One SSH command (or the connection) of a deploy: its text (cut short) and how long it took. */
export interface TimedCommand {
  readonly host: string;
  readonly command: string;
  readonly ms: number;
}

function timeCommands(log: TimedCommand[]): void {
  const exec = HostSession.prototype.exec;
  HostSession.prototype.exec = async function (this: HostSession, ...args: Parameters<HostSession["exec"]>) {
    const t0 = performance.now();
    try {
      return await exec.apply(this, args);
    } finally {
      log.push({ host: this.target.host, command: args[0].slice(0, 4000), ms: performance.now() - t0 });
    }
  };
  // The deploy lock's command, until the lock is held (it also recovers and reads the state):
  // its time to "held", not the whole deploy it then lasts.
  const lease = HostSession.prototype.lease;
  HostSession.prototype.lease = async function (this: HostSession, ...args: Parameters<HostSession["lease"]>) {
    const t0 = performance.now();
    try {
      return await lease.apply(this, args);
    } finally {
      log.push({ host: this.target.host, command: `(lock) ${args[0].slice(0, 4000)}`, ms: performance.now() - t0 });
    }
  };
  const connect = HostSession.connect.bind(HostSession);
  HostSession.connect = async (t: SshTarget) => {
    const t0 = performance.now();
    try {
      return await connect(t);
    } finally {
      log.push({ host: t.host, command: "(connect)", ms: performance.now() - t0 });
    }
  };
}

async function main(): Promise<void> {
  // Since the process started (performance's time origin): node's start and loading the deployer.
  const startMs = performance.now();
  const [bundleDir, hostsFile, mode = "update", previousDir] = process.argv.slice(2);
  if (!bundleDir || !hostsFile || !["create", "update"].includes(mode)) throw new Error("usage: homefleet-deploy.js BUNDLE_DIR HOSTS_JSON [create|update]");
  const { files, manifest } = JSON.parse(readFileSync(join(bundleDir, "rendered.json"), "utf8")) as { files: RenderedFile[]; manifest: HostManifest };
  const hosts = JSON.parse(readFileSync(hostsFile, "utf8")) as BenchHostTarget[];
  const previous = previousDir ? (JSON.parse(readFileSync(join(previousDir, "rendered.json"), "utf8")) as { manifest: HostManifest }).manifest : undefined;
  const expectedOn = (h: BenchHostTarget) => (mode === "create" ? { expected: { generation: null, manifest: null } } : previous && h.generation !== undefined ? { expected: { generation: h.generation, manifest: previous } } : {});
  const commands: TimedCommand[] = [];
  if (process.env.HOMEFLEET_BENCH_TIMINGS === "1") timeCommands(commands);
  const results = await Promise.all(
    hosts.map((h) => deployHost({ host: h.name, address: h.address, port: 22, user: "root", privateKey: readFileSync(h.keyFile, "utf8"), hostKey: h.hostKey }, files, manifest, [], { healthTimeoutSec: HEALTH_TIMEOUT_SEC, healthSoakSec: HEALTH_SOAK_SEC, firstDeployment: mode === "create", ...expectedOn(h) })),
  );
  process.stdout.write(JSON.stringify({ startMs, results, commands }) + "\n");
  const unhealthy = results.filter((r) => r.health.verdict !== "healthy");
  if (unhealthy.length) throw new Error(`unhealthy: ${unhealthy.map((r) => `${r.host} ${JSON.stringify(r.health.checks)}`).join("; ")}`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`homefleet-deploy: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
