/**
 * The rendered prometheus.yml, run by a real Prometheus (Debian package `prometheus`): the extra
 * scrape targets reach the paths they name. A container's endpoint at /metrics, LiteLLM's at
 * /metrics/ (each through its `__metrics_path__` label in the one stack-metrics job) and an
 * exporter homefleet does not run at its own path are served here by stand-ins that answer only
 * on that path, so a target Prometheus scrapes at the wrong path shows as down.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet } from "../bundle/hostBundle";
import { parseFleetConfig } from "../config/load";
import { killAndReap } from "./support/children";

jest.setTimeout(60_000);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createTcpServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A metrics endpoint that answers on `path` alone. */
function endpoint(port: number, path: string, metric: string): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      if (req.url !== path) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(`# TYPE ${metric} gauge\n${metric} 1\n`);
    }).listen(port, "127.0.0.1", () => resolve(server));
  });
}

let work = "";
let prometheus: ChildProcess | undefined;
const servers: Server[] = [];

afterAll(async () => {
  await killAndReap([prometheus]);
  for (const s of servers) await new Promise((r) => s.close(r));
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: string;
  lastError: string;
}

it("scrapes each extra target at the path it names", async () => {
  const [app, llm, exporter, web] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const config = parseFleetConfig({
    hosts: { box: { address: "192.0.2.10", arch: "x86_64", os: "systemd" } },
    stacks: {
      app: { host: "box", network: { subnet: "10.89.1.0/24" }, container: { image: "docker.io/library/app:1.0", port: app, healthCheck: { path: "/healthz" } }, metrics: {} },
      llm: { host: "box", kind: "litellm", network: { subnet: "10.89.0.0/24" }, container: { image: "ghcr.io/berriai/litellm:v1.81.3", port: llm }, litellm: { models: [{ name: "a", model: "ollama/a" }], prometheusMetrics: true } },
    },
    monitoring: { prometheusHost: "box", scrapeInterval: "1s", scrapeTargets: { custom: { host: "box", port: exporter, path: "/custom/metrics" } } },
  });
  const bundle = renderFleet(config).bundles[0];
  const file = (path: string) => bundle.files.find((f) => f.path === path)!.content;
  work = mkdtempSync(join(tmpdir(), "hf-prometheus-"));
  writeFileSync(join(work, "homefleet-rules.yml"), file("/etc/prometheus/homefleet-rules.yml"));
  writeFileSync(join(work, "prometheus.yml"), file("/etc/prometheus/prometheus.yml").split("/etc/prometheus/").join(`${work}/`));
  servers.push(await endpoint(app, "/metrics", "app_up"), await endpoint(llm, "/metrics/", "litellm_up"), await endpoint(exporter, "/custom/metrics", "custom_up"));

  prometheus = spawn("prometheus", [`--config.file=${join(work, "prometheus.yml")}`, `--storage.tsdb.path=${join(work, "data")}`, `--web.listen-address=127.0.0.1:${web}`], { stdio: "ignore" });
  const wanted = ["stack-metrics/app", "stack-metrics/llm", "custom/"];
  let targets: Target[] = [];
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 300));
    try {
      const res = await fetch(`http://127.0.0.1:${web}/api/v1/targets?state=active`);
      targets = ((await res.json()) as { data: { activeTargets: Target[] } }).data.activeTargets.filter((t) => wanted.includes(`${t.labels.job}/${t.labels.stack ?? ""}`));
      if (targets.length === 3 && targets.every((t) => t.health !== "unknown")) break;
    } catch {
      // not listening yet
    }
  }
  const seen = targets.map((t) => ({ job: t.labels.job, stack: t.labels.stack, url: t.scrapeUrl, health: t.health, error: t.lastError })).sort((a, b) => a.url.localeCompare(b.url));
  expect(seen).toEqual(
    [
      { job: "stack-metrics", stack: "app", url: `http://127.0.0.1:${app}/metrics`, health: "up", error: "" },
      { job: "stack-metrics", stack: "llm", url: `http://127.0.0.1:${llm}/metrics/`, health: "up", error: "" },
      { job: "custom", stack: undefined, url: `http://127.0.0.1:${exporter}/custom/metrics`, health: "up", error: "" },
    ].sort((a, b) => a.url.localeCompare(b.url)),
  );
});
