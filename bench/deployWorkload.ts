/**
 * The deploy benchmark's workload (bench/deploy.bench.ts): 12 small files, the same for every
 * deployer, written to disk in each deployer's input format before anything is timed.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { sha256, type HostManifest } from "../bundle/hostBundle";
import type { RenderedFile } from "../render/types";

export const CHANGED_CONFIG = "/etc/homefleet-bench/app1.conf";
export const CHANGED_UNIT = "bench-app1.service";
export const APPS = [1, 2, 3].map((i) => `bench-app${i}.service`);

/**
 * 12 small files: 3 long-running services reading a config file each, 3 oneshot jobs with their
 * 3 timers (6 .service, 3 .timer, 3 config files). `change` is one line of app1.conf: 0 on a first
 * push, and a number never used before in the run on each change, so that no change goes back to
 * content a host (or homefleet's kept generations) has seen.
 */
export function workload(change: number): RenderedFile[] {
  const files: RenderedFile[] = [];
  for (const i of [1, 2, 3]) {
    files.push({
      path: `/etc/homefleet-bench/app${i}.conf`,
      mode: "0644",
      content: [`# homefleet deploy benchmark: read by bench-app${i}.service`, `BENCH_APP=${i}`, `BENCH_LISTEN=127.0.0.1:${8100 + i}`, `BENCH_LOG_LEVEL=info`, ...(i === 1 ? [`BENCH_CHANGE=${change}`] : []), ""].join("\n"),
    });
    files.push({
      path: `/etc/systemd/system/bench-app${i}.service`,
      mode: "0644",
      content: [
        "[Unit]",
        `Description=homefleet deploy benchmark: long-running service ${i}`,
        "After=network.target",
        "",
        "[Service]",
        `EnvironmentFile=/etc/homefleet-bench/app${i}.conf`,
        "ExecStart=/bin/sleep infinity",
        "Restart=on-failure",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
      ].join("\n"),
    });
    files.push({
      path: `/etc/systemd/system/bench-job${i}.service`,
      mode: "0644",
      content: ["[Unit]", `Description=homefleet deploy benchmark: job ${i} (started by bench-job${i}.timer)`, "", "[Service]", "Type=oneshot", "ExecStart=/bin/true", ""].join("\n"),
    });
    files.push({
      path: `/etc/systemd/system/bench-job${i}.timer`,
      mode: "0644",
      content: ["[Unit]", `Description=homefleet deploy benchmark: timer of job ${i}`, "", "[Timer]", `OnCalendar=*-*-* 0${i}:00:00`, "RandomizedDelaySec=5min", "", "[Install]", "WantedBy=timers.target", ""].join("\n"),
    });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** The units a change of the file restarts, by homefleet's rule (bundle/activation.ts): a oneshot job without [Install] is not restarted. */
function restartOf(path: string): string[] {
  const own = path.match(/^\/etc\/systemd\/system\/([^/]+)$/)?.[1];
  if (own) return own.startsWith("bench-job") && own.endsWith(".service") ? [] : [own];
  const app = path.match(/^\/etc\/homefleet-bench\/app(\d)\.conf$/)?.[1];
  return app ? [`bench-app${app}.service`] : [];
}

/** A homefleet host manifest for the workload, computed as buildHostBundle does. */
export function manifestOf(files: readonly RenderedFile[]): HostManifest {
  const units = files.map((f) => f.path.match(/^\/etc\/systemd\/system\/([^/]+\.(service|timer))$/)?.[1]).filter((u): u is string => !!u).sort();
  const start = files.filter((f) => f.path.startsWith("/etc/systemd/system/") && /^\[Install\]$/m.test(f.content)).map((f) => f.path.slice("/etc/systemd/system/".length)).sort();
  const body = {
    os: "systemd" as const,
    arch: "x86_64" as const,
    files: files.map((f) => {
      const restart = restartOf(f.path);
      return { path: f.path, mode: f.mode, sha256: sha256(f.content), size: Buffer.byteLength(f.content, "utf8"), ...(restart.length ? { restart } : {}) };
    }),
    secretFiles: [],
    units,
    start,
    disabledUnits: [],
    packages: [],
    healthChecks: [],
    interfaces: [],
    images: [],
  };
  return { ...body, sha256: sha256(JSON.stringify(body)) };
}

export interface Bundle {
  /** 0: the first push's content; n > 0: the n-th change of the run. */
  readonly change: number;
  readonly files: RenderedFile[];
  readonly manifest: HostManifest;
  /**
   * On disk, for the scripts and Ansible: files/ABSOLUTE/PATH, manifest.tsv (SHA256, MODE, PATH,
   * units a change restarts), start (units to enable and start), manifest.json (for homefleet).
   */
  readonly dir: string;
  readonly ansibleVars: string;
}

export function writeBundle(work: string, change: number): Bundle {
  const files = workload(change);
  const manifest = manifestOf(files);
  const dir = join(work, `bundle-${change}`);
  for (const f of files) {
    mkdirSync(dirname(join(dir, "files", f.path)), { recursive: true });
    writeFileSync(join(dir, "files", f.path), f.content, { mode: parseInt(f.mode, 8) });
  }
  writeFileSync(join(dir, "manifest.tsv"), manifest.files.map((f) => [f.sha256, f.mode, f.path, (f.restart ?? []).join(",")].join("\t") + "\n").join(""));
  writeFileSync(join(dir, "start"), manifest.start.map((u) => `${u}\n`).join(""));
  writeFileSync(join(dir, "rendered.json"), JSON.stringify({ files, manifest }));
  const ansibleVars = join(dir, "ansible-vars.json");
  writeFileSync(ansibleVars, JSON.stringify({ bench_dirs: [...new Set(manifest.files.map((f) => dirname(f.path)))].sort(), bench_files: manifest.files.map((f) => ({ src: join(dir, "files", f.path), dest: f.path, mode: f.mode, restart: f.restart ?? [] })), bench_start: manifest.start }, null, 2));
  return { change, files, manifest, dir, ansibleVars };
}
