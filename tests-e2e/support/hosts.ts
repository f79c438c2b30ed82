/**
 * Real test hosts for end-to-end tests: Debian bookworm containers with systemd as PID 1 and
 * sshd, booted by e2e/testhosts.sh (systemd-nspawn, one network namespace each). An aarch64 host
 * runs its own arm64 root under qemu-user emulation.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SshTarget } from "../../deploy/ssh";
import type { HostArch } from "../../model/specs";

const SCRIPT = join(__dirname, "..", "..", "e2e", "testhosts.sh");

export interface TestHost {
  readonly name: string;
  readonly address: string;
  readonly hostKey: string;
  readonly keyFile: string;
  /** The known_hosts file the test script's own ssh checks the host against. */
  readonly knownHosts: string;
  readonly pid1: number;
  /** What homefleet's config calls the host's architecture. */
  readonly arch: HostArch;
  /** Seconds from `up` to a successful `ssh true`, as testhosts.sh measured them. */
  readonly bootSeconds: number;
}

/** Debian's name for each architecture homefleet knows (its rootfs and packages). */
export const DEBIAN_ARCH: Record<HostArch, string> = { x86_64: "amd64", aarch64: "arm64" };

function testhosts(...args: string[]): string {
  const r = spawnSync("bash", [SCRIPT, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`testhosts.sh ${args.join(" ")} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

export function bootHost(name: string, index: number, arch: HostArch = "x86_64"): TestHost {
  testhosts("down", name); // a host kept from an earlier run (HOMEFLEET_E2E_KEEP) starts afresh
  const info = Object.fromEntries(
    testhosts("up", name, String(index), DEBIAN_ARCH[arch])
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  return { name, address: info.address, hostKey: info.host_key, keyFile: info.ssh_key, knownHosts: info.known_hosts, pid1: Number(info.pid1), arch, bootSeconds: Number(info.boot_seconds) };
}

/** HOMEFLEET_E2E_KEEP=1 leaves hosts running after the tests, for a look at what they run. */
export function stopHost(name: string): void {
  if (process.env.HOMEFLEET_E2E_KEEP === "1") return;
  testhosts("down", name);
}

export function target(host: TestHost, overrides: Partial<SshTarget> = {}): SshTarget {
  return { host: host.name, address: host.address, port: 22, user: "root", privateKey: readFileSync(host.keyFile, "utf8"), hostKey: host.hostKey, ...overrides };
}

/** Runs a command on the host through the test script's own ssh (independent of the deployer). */
export function onHost(host: TestHost, command: string, input?: Buffer): { status: number; stdout: string; stderr: string } {
  const r = spawnSync("bash", [SCRIPT, "ssh", host.name, command], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, input });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
