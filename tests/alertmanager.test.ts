/**
 * Alerts reach a person: the rendered Alertmanager config, judged by the real programs (Debian
 * packages prometheus and prometheus-alertmanager). amtool checks the config and its routes; then
 * a real Prometheus (with homefleet's rule file) and a real Alertmanager (with the rendered
 * alertmanager.yml as is) run on loopback, and an HTTP receiver in this test gets the
 * notifications: the Watchdog rule at the heartbeat receiver only, alerts at the default receiver
 * with its bearer token read from the systemd credential path, inhibited alerts not at all.
 * Email receivers are checked by amtool only: no SMTP server runs here.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { renderFleet } from "../bundle/hostBundle";
import { parseFleetConfig } from "../config/load";
import { killAndReap } from "./support/children";

jest.setTimeout(90_000);

const TOKEN = `CANARY-am-token-${process.pid}`;

interface Received {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly alerts: { readonly status: string; readonly labels: Record<string, string> }[];
}

const received: Received[] = [];
let receiver: Server;
let receiverPort = 0;
let work = "";
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createTcpServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function bodyOf(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = "";
    req.on("data", (d) => (data += d));
    req.on("end", () => resolve(data));
  });
}

function render(port: number) {
  const config = parseFleetConfig({
    hosts: { box: { address: "192.0.2.10", arch: "x86_64", os: "systemd" } },
    stacks: { app: { host: "box", kind: "container", network: { subnet: "10.89.7.0/24" }, container: { image: "docker.io/library/nginx:1.27.3", port: 8080, healthCheck: { path: "/" } } } },
    monitoring: {
      prometheusHost: "box",
      alertmanager: {
        receivers: {
          ops: { webhook: { url: `http://127.0.0.1:${port}/ops`, bearerTokenConfig: "opsToken" } },
          heartbeat: { webhook: { url: `http://127.0.0.1:${port}/heartbeat` } },
          mail: { email: { to: "ops@example.org", from: "am@example.org", smarthost: "smtp.example.org:587", username: "am@example.org", passwordConfig: "smtpPassword" } },
        },
        defaultReceiver: "ops",
        heartbeatReceiver: "heartbeat",
        groupWait: "1s",
        groupInterval: "1s",
        heartbeatInterval: "1m",
      },
    },
    configKeys: ["opsToken", "smtpPassword"],
    secretKeys: ["opsToken", "smtpPassword"],
  });
  return renderFleet(config).bundles[0];
}

function fileOf(bundle: ReturnType<typeof render>, path: string): string {
  const f = bundle.files.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path}; files: ${bundle.files.map((x) => x.path).join(", ")}`);
  return f.content;
}

function amtool(...args: string[]) {
  const r = spawnSync("amtool", args, { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() - started > timeoutMs) {
      const logs = ["prometheus.log", "alertmanager.log"].map((f) => `${f}:\n${readFileSync(join(work, f), "utf8").split("\n").slice(-15).join("\n")}`).join("\n");
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ${JSON.stringify(received)}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

let bundle: ReturnType<typeof render>;
let amPort = 0;

beforeAll(async () => {
  receiver = createServer(async (req, res) => {
    const body = await bodyOf(req);
    const doc = JSON.parse(body || "{}") as { alerts?: Received["alerts"] };
    received.push({ path: req.url ?? "", authorization: req.headers.authorization, alerts: doc.alerts ?? [] });
    res.writeHead(200).end();
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverPort = (receiver.address() as AddressInfo).port;
  bundle = render(receiverPort);
  work = mkdtempSync(join(tmpdir(), "hf-alertmanager-"));
  writeFileSync(join(work, "alertmanager.yml"), fileOf(bundle, "/etc/prometheus/alertmanager.yml"));
  writeFileSync(join(work, "rules.yml"), fileOf(bundle, "/etc/prometheus/homefleet-rules.yml"));
});

afterAll(async () => {
  await killAndReap(children);
  receiver?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the rendered Alertmanager config", () => {
  it("passes amtool check-config, and names credentials by their systemd path only", () => {
    const r = amtool("check-config", join(work, "alertmanager.yml"));
    expect(r.out).toContain("SUCCESS");
    expect(r.status).toBe(0);
    const text = fileOf(bundle, "/etc/prometheus/alertmanager.yml");
    expect(text).toContain("credentials_file: /run/credentials/prometheus-alertmanager.service/ops-token");
    expect(text).toContain("auth_password_file: /run/credentials/prometheus-alertmanager.service/mail-password");
    expect(fileOf(bundle, "/etc/systemd/system/prometheus-alertmanager.service.d/50-homefleet.conf")).toContain(
      "LoadCredential=mail-password:/var/lib/homefleet/secrets/alertmanager/mail-password\nLoadCredential=ops-token:/var/lib/homefleet/secrets/alertmanager/ops-token",
    );
    expect(bundle.host.secretFiles.map((s) => [s.path, s.mode, s.owner])).toEqual([
      ["/var/lib/homefleet/secrets/alertmanager/mail-password", "0400", "root"],
      ["/var/lib/homefleet/secrets/alertmanager/ops-token", "0400", "root"],
    ]);
  });

  it("listens on loopback without a cluster port, and Prometheus sends to it", () => {
    expect(fileOf(bundle, "/etc/default/prometheus-alertmanager")).toContain("ARGS='--config.file=/etc/prometheus/alertmanager.yml --web.listen-address=127.0.0.1:9093 --cluster.listen-address='");
    const prometheus = parseYaml(fileOf(bundle, "/etc/prometheus/prometheus.yml"));
    expect(prometheus.alerting).toEqual({ alertmanagers: [{ static_configs: [{ targets: ["127.0.0.1:9093"] }] }] });
    expect(bundle.manifest.start).toContain("prometheus-alertmanager.service");
    expect(bundle.manifest.packages).toContain("prometheus-alertmanager");
  });

  it("routes Watchdog to the heartbeat alone, and everything else to the default receiver", () => {
    const routeOf = (...labels: string[]) => amtool("config", "routes", "test", `--config.file=${join(work, "alertmanager.yml")}`, ...labels).stdout.trim();
    expect(routeOf("alertname=Watchdog", "severity=none")).toBe("heartbeat");
    expect(routeOf("alertname=DiskSpaceLow", "severity=warning", "instance=box:9100")).toBe("ops");
    expect(routeOf("alertname=BackupStale", "severity=critical")).toBe("ops");
  });
});

describe("a real Prometheus and Alertmanager on loopback", () => {
  beforeAll(async () => {
    amPort = await freePort();
    const promPort = await freePort();
    // The rendered file as is: its credentials path is /run/credentials/<unit>/, which a private
    // mount namespace provides here (systemd's LoadCredential does on a host).
    const creds = join(work, "credentials");
    mkdirSync(creds);
    writeFileSync(join(creds, "ops-token"), TOKEN);
    writeFileSync(join(creds, "mail-password"), "unused");
    const am = spawn(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount -t tmpfs tmpfs /run && mkdir -p /run/credentials/prometheus-alertmanager.service && cp "$1"/* /run/credentials/prometheus-alertmanager.service/ && exec prometheus-alertmanager --config.file="$2" --storage.path="$3" --web.listen-address=127.0.0.1:"$4" --cluster.listen-address=',
        "sh",
        creds,
        join(work, "alertmanager.yml"),
        join(work, "am-data"),
        String(amPort),
      ],
      { stdio: ["ignore", "ignore", openSync(join(work, "alertmanager.log"), "w")] },
    );
    children.push(am);
    // Prometheus with homefleet's rule file, evaluated every second, sending to that Alertmanager.
    // It re-sends firing alerts every 2 s here (1 min by default): the first send can come before
    // it has found the Alertmanager, and would otherwise not be repeated for a minute.
    writeFileSync(
      join(work, "prometheus.yml"),
      JSON.stringify({ global: { evaluation_interval: "1s", scrape_interval: "1s" }, rule_files: [join(work, "rules.yml")], alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] }, scrape_configs: [] }),
    );
    const prom = spawn("prometheus", [`--config.file=${join(work, "prometheus.yml")}`, `--storage.tsdb.path=${join(work, "prom-data")}`, `--web.listen-address=127.0.0.1:${promPort}`, "--rules.alert.resend-delay=2s"], { stdio: ["ignore", "ignore", openSync(join(work, "prometheus.log"), "w")] });
    children.push(prom);
  });

  it("delivers the firing Watchdog rule to the heartbeat receiver, and not to the default one", async () => {
    const heartbeat = await waitFor("a Watchdog notification", () => received.find((r) => r.path === "/heartbeat"), 60_000);
    expect(heartbeat.alerts.map((a) => [a.labels.alertname, a.status])).toEqual([["Watchdog", "firing"]]);
    expect(received.filter((r) => r.path === "/ops").flatMap((r) => r.alerts.map((a) => a.labels.alertname))).not.toContain("Watchdog");
  });

  it("delivers an alert to the default receiver with its bearer token, and holds back what a firing alert inhibits", async () => {
    const alert = (labels: Record<string, string>) => ({ labels, annotations: { summary: "test" }, startsAt: new Date().toISOString() });
    const post = await fetch(`http://127.0.0.1:${amPort}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        // The same alert at both severities: only the critical one reaches a person.
        alert({ alertname: "DiskSpaceLow", severity: "critical", instance: "box:9100" }),
        alert({ alertname: "DiskSpaceLow", severity: "warning", instance: "box:9100" }),
        // An exporter that is down explains the other alerts about its instance.
        alert({ alertname: "TargetDown", severity: "critical", instance: "pi:9121" }),
        alert({ alertname: "RedisMemoryHigh", severity: "warning", instance: "pi:9121" }),
      ]),
    });
    expect(post.status).toBe(200);
    const delivered = () => received.filter((r) => r.path === "/ops").flatMap((r) => r.alerts.map((a) => `${a.labels.alertname}/${a.labels.severity}/${a.labels.instance}`));
    await waitFor("DiskSpaceLow and TargetDown at the default receiver", () => (delivered().includes("DiskSpaceLow/critical/box:9100") && delivered().includes("TargetDown/critical/pi:9121") ? true : undefined), 30_000);
    // Inhibited alerts would have been in the same groups' first notification: wait a group interval more.
    await new Promise((r) => setTimeout(r, 3000));
    expect(delivered()).not.toContain("DiskSpaceLow/warning/box:9100");
    expect(delivered()).not.toContain("RedisMemoryHigh/warning/pi:9121");
    const ops = received.filter((r) => r.path === "/ops");
    expect(new Set(ops.map((r) => r.authorization))).toEqual(new Set([`Bearer ${TOKEN}`]));
  });

  it("keeps the receiver's token out of every rendered file", () => {
    expect(bundle.files.filter((f) => f.content.includes(TOKEN)).map((f) => f.path)).toEqual([]);
  });
});
