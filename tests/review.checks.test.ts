/**
 * Each review check: a fleet that triggers it, and the clean fleet that does not. Checks that
 * homefleet's own model can never trigger from config (cycles, a missing After=) are fed a model
 * whose unit facts are edited by hand, the way a hand-written unit or a future bug would look.
 */
import { renderFleet, type FleetRender } from "../bundle/hostBundle";
import { parseFleetConfig, type FleetConfig } from "../config/load";
import { reviewFleet } from "../review";
import { checkUnitGraph } from "../review/checks";
import type { CheckId, Finding } from "../review/findings";
import { unit as hostUnit } from "../model/hostUnits";
import type { HostUnitSpec } from "../model/specs";

type Raw = { hosts: Record<string, any>; stacks: Record<string, any>; monitoring?: any; review?: any };

function base(): Raw {
  return {
    monitoring: { prometheusHost: "box", alertmanager: { receivers: { ops: { webhook: { url: "http://192.0.2.50:8080/hook" } }, heartbeat: { webhook: { url: "https://hc-ping.com/example" } } }, defaultReceiver: "ops", heartbeatReceiver: "heartbeat" } },
    hosts: {
      box: { address: "192.0.2.10", arch: "x86_64", os: "systemd", monitoring: { listenAddress: "192.0.2.10" }, certificates: { web: { domains: ["web.example.org"], issuer: "acme", acme: { email: "ops@example.org" } } } },
      pi: { address: "192.0.2.11", arch: "aarch64", os: "nixos", monitoring: { listenAddress: "192.0.2.11" }, backup: { offsite: { repository: "sftp:nas:/srv/restic/pi", passwordConfig: "resticPassword" } } },
    },
    stacks: {
      llm: {
        host: "box",
        kind: "litellm",
        network: { subnet: "10.89.0.0/24" },
        container: { image: "ghcr.io/berriai/litellm-database:main-v1.81.3-stable" },
        database: {},
        cache: { port: 6380 },
        litellm: { models: [{ name: "a", model: "ollama/a" }, { name: "b", model: "ollama/b" }], fallbacks: { a: ["b"] } },
      },
      app: {
        host: "pi",
        network: { subnet: "10.89.1.0/24" },
        container: { image: "docker.io/wallabag/wallabag:2.6.10", port: 80, publish: { hostPort: 8081 }, healthCheck: { path: "/login" } },
        database: {},
      },
    },
  };
}

function load(raw: Raw): FleetConfig {
  return parseFleetConfig({ ...raw, configKeys: ["resticPassword"] });
}

function review(raw: Raw, edit?: (render: FleetRender) => void, exposure?: Map<string, Map<string, number>>): Finding[] {
  const config = load(raw);
  const render = structuredClone(renderFleet(config)) as FleetRender;
  edit?.(render);
  return [...reviewFleet({ config, render, exposure }).findings];
}

const of = (findings: Finding[], check: CheckId) => findings.filter((f) => f.check === check);

/** Changes the model's facts about one unit (the review reads those, not the rendered files). */
function editUnit(render: FleetRender, host: string, name: string, change: (unit: HostUnitSpec) => HostUnitSpec): void {
  const model = render.model.hosts.find((h) => h.name === host)!;
  const units = model.units as HostUnitSpec[];
  const i = units.findIndex((u) => u.name === name);
  if (i < 0) throw new Error(`${host} has no unit ${name}`);
  units[i] = change(units[i]);
}

function editFile(render: FleetRender, host: string, path: string, change: (text: string) => string): void {
  const bundle = render.bundles.find((b) => b.host.name === host)!;
  const file = bundle.files.find((f) => f.path === path);
  if (!file) throw new Error(`${host} has no ${path}`);
  (file as { content: string }).content = change(file.content);
}

describe("the clean fleet", () => {
  it("has no findings at all", () => {
    expect(review(base())).toEqual([]);
  });
});

describe("timers", () => {
  it("timer-collision: two backups scheduled at the same time", () => {
    const raw = base();
    raw.hosts.pi.backup.schedule = { postgresql: "02:00", redis: "02:30", config: "02:00" };
    const found = of(review(raw), "timer-collision");
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: "warning", host: "pi", path: "homefleet:hosts.pi.backup.schedule" });
    expect(found[0].message).toContain("start at the same time (02:00)");
  });

  it("timer-collision: overlapping windows", () => {
    const raw = base();
    raw.hosts.pi.backup.schedule = { postgresql: "02:00", redis: "02:30", config: "02:05" };
    expect(of(review(raw), "timer-collision")[0].message).toMatch(/overlaps/);
  });

  it("timer-order: off-site backup before the dumps are done", () => {
    const raw = base();
    raw.hosts.pi.backup.offsite.schedule = "02:10";
    const found = of(review(raw), "timer-order");
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]).toMatchObject({ severity: "warning", path: "homefleet:hosts.pi.backup.offsite.schedule" });
  });

  it("timer-order: off-site backup before a volume archive is done (it carries the archives too)", () => {
    const raw = base();
    raw.stacks.app.container.volumes = [{ source: "/srv/app/data", target: "/data" }];
    const placed = (r: FleetRender) => r.model.hosts.find((h) => h.name === "pi")!.operations.timers.find((t) => t.name === "homefleet-backup-volumes-app")!;
    const clean = of(review(raw), "timer-order");
    expect(clean).toEqual([]);
    const found = of(
      review(raw, (r) => {
        const offsite = r.model.hosts.find((h) => h.name === "pi")!.operations.timers.find((t) => t.name === "homefleet-backup-offsite") as { onCalendar: string };
        // The off-site copy starts 10 minutes after the archive's timer, inside its window.
        const [, hh, mm] = placed(r).onCalendar.match(/(\d\d):(\d\d):00$/)!;
        const start = Number(hh) * 60 + Number(mm) + 10;
        offsite.onCalendar = `*-*-* ${String(Math.floor(start / 60)).padStart(2, "0")}:${String(start % 60).padStart(2, "0")}:00`;
      }),
      "timer-order",
    );
    expect(found.map((f) => f.message)).toEqual([expect.stringContaining("before homefleet-backup-volumes-app may have finished")]);
  });

  it("timer-renewal-stagger: renewals less than 30 minutes apart", () => {
    const raw = base();
    raw.hosts.box.certificates.api = { domains: ["api.example.org"], issuer: "acme", acme: { email: "ops@example.org" } };
    const found = of(
      review(raw, (r) => {
        const timers = r.model.hosts.find((h) => h.name === "box")!.operations.timers as unknown as { name: string; onCalendar: string }[];
        timers.find((t) => t.name === "homefleet-cert-web")!.onCalendar = "*-*-* 04:10:00";
      }),
      "timer-renewal-stagger",
    );
    expect(found).toHaveLength(1);
    expect(found[0].message).toContain("10 minutes apart");
  });

  it("homefleet places its own jobs without a finding: three caches and six certificates on one host, with an off-site backup", () => {
    const raw = base();
    raw.hosts.box.backup = { offsite: { repository: "sftp:nas:/srv/restic/box", passwordConfig: "resticPassword", schedule: "04:00" } };
    for (const name of ["api", "auth", "git", "mail", "wiki"]) raw.hosts.box.certificates[name] = { domains: [`${name}.example.org`], issuer: "acme", acme: { email: "ops@example.org", httpPort: 8402 } };
    const bridged = (i: number) => ({ ...structuredClone(raw.stacks.llm), database: undefined, network: { subnet: `10.89.${10 + i}.0/24` }, cache: { port: 6390 + i }, container: { image: "ghcr.io/berriai/litellm-database:main-v1.81.3-stable", publish: { hostPort: 4010 + i } } });
    raw.stacks.llm2 = bridged(1);
    raw.stacks.llm3 = bridged(2);
    const findings = review(raw).filter((f) => f.check.startsWith("timer-"));
    expect(findings).toEqual([]);
    const timers = renderFleet(load(raw)).model.hosts.find((h) => h.name === "box")!.operations.timers;
    const at = (name: string) => timers.find((t) => t.name === name)!.onCalendar;
    // The first cache where config says; the others in the first free windows after it.
    expect(["llm", "llm2", "llm3"].map((s) => at(`homefleet-backup-redis-${s}`))).toEqual(["*-*-* 02:30:00", "*-*-* 03:05:00", "*-*-* 03:20:00"]);
    // Renewals at least 30 minutes apart, around the off-site backup (04:00-04:20) and Sunday's
    // restic check (05:00-05:20); the certificate check after the last renewal's window.
    expect(["api", "auth", "git", "mail", "web", "wiki"].map((c) => at(`homefleet-cert-${c}`))).toEqual(["*-*-* 04:20:00", "*-*-* 05:20:00", "*-*-* 05:50:00", "*-*-* 06:20:00", "*-*-* 06:50:00", "*-*-* 07:20:00"]);
    expect(at("homefleet-cert-check")).toBe("*-*-* 07:40:00");
  });

  it("timer-calendar: a valid expression that is not one fixed time a day is noted, not warned about", () => {
    const raw = base();
    raw.hosts.pi.backup.offsite.checkCalendar = "weekly";
    expect(of(review(raw), "timer-calendar")).toEqual([expect.objectContaining({ severity: "info", path: "homefleet:hosts.pi.backup.offsite" })]);
  });

  it("timer-persistent: a timer that skips missed runs", () => {
    const found = of(
      review(base(), (r) => {
        (r.model.hosts.find((h) => h.name === "box")!.operations.timers[0] as { persistent: boolean }).persistent = false;
      }),
      "timer-persistent",
    );
    expect(found).toHaveLength(1);
  });
});

describe("dependencies", () => {
  const unit = (name: string, facts: Partial<HostUnitSpec> = {}): HostUnitSpec => hostUnit({ name, source: "homefleet", ...facts });
  const collect = (units: ReturnType<typeof unit>[]) => {
    const out: CheckId[] = [];
    checkUnitGraph("box", units, (check) => out.push(check));
    return out;
  };

  it("unit-cycle: a.service after b.service after a.service", () => {
    expect(collect([unit("a.service", { after: ["b.service"] }), unit("b.service", { after: ["a.service"] })])).toContain("unit-cycle");
  });

  it("unit-cycle: no cycle in a chain", () => {
    expect(collect([unit("a.service", { after: ["b.service"] }), unit("b.service", { after: ["c.service"] })])).toEqual([]);
  });

  it("requires-without-after: Requires= alone", () => {
    expect(collect([unit("a.service", { requires: ["b.service"] })])).toEqual(["requires-without-after"]);
    expect(collect([unit("a.service", { requires: ["b.service"], after: ["b.service"] })])).toEqual([]);
  });

  it("secret-before-filesystem: secrets read with DefaultDependencies=no and no local-fs.target", () => {
    expect(collect([unit("a.service", { defaultDependencies: false, secretFiles: ["/var/lib/homefleet/secrets/x"] })])).toEqual(["secret-before-filesystem"]);
    expect(collect([unit("a.service", { defaultDependencies: false, after: ["local-fs.target"], secretFiles: ["/var/lib/homefleet/secrets/x"] })])).toEqual([]);
  });

  it("bind-before-device: Redis on the gateway without waiting for the bridge (seed 001)", () => {
    const found = of(
      review(base(), (r) => editUnit(r, "box", "redis-llm.service", (u) => ({ ...u, after: u.after.filter((a) => a !== "sys-subsystem-net-devices-hfllm.device") }))),
      "bind-before-device",
    );
    expect(found).toEqual([expect.objectContaining({ severity: "error", path: "homefleet:stacks.llm.network" })]);
    expect(found[0].message).toContain("redis-llm.service listens on 10.89.0.1");
  });
});

describe("ports", () => {
  it("port-clash: a published port on the node exporter's port and address", () => {
    const raw = base();
    raw.stacks.llm.container.publish = { hostPort: 9100, address: "192.0.2.10" };
    expect(of(review(raw), "port-clash")).toEqual([expect.objectContaining({ severity: "error", host: "box" })]);
  });

  it("internal-public: exporters on all addresses", () => {
    const raw = base();
    raw.hosts.pi.monitoring.listenAddress = "0.0.0.0";
    expect(of(review(raw), "internal-public").length).toBeGreaterThanOrEqual(3);
  });

  it("published-not-loopback: a container published on the LAN", () => {
    const raw = base();
    raw.stacks.app.container.publish = { hostPort: 8081, address: "0.0.0.0" };
    expect(of(review(raw), "published-not-loopback")).toEqual([expect.objectContaining({ path: "homefleet:stacks.app.container.publish.address" })]);
  });
});

describe("scrapes through the firewall", () => {
  it("monitoring-unreachable: a NixOS host's exporters when no firewall rule can name the Prometheus host", () => {
    const raw = base();
    raw.hosts.box.address = "box.lan";
    expect(of(review(raw), "monitoring-unreachable")).toEqual([expect.objectContaining({ severity: "warning", host: "pi", path: "homefleet:hosts.pi.monitoring.listenAddress" })]);
  });
});

describe("alert delivery", () => {
  it("alert-delivery: rules evaluate but no Alertmanager notifies anyone", () => {
    const raw = base();
    delete raw.monitoring.alertmanager;
    expect(of(review(raw), "alert-delivery")).toEqual([expect.objectContaining({ severity: "warning", host: "box", path: "homefleet:monitoring.alertmanager", message: "alerts evaluate but notify no one: there is no Alertmanager" })]);
  });

  it("alert-delivery: an Alertmanager without a heartbeat receiver", () => {
    const raw = base();
    delete raw.monitoring.alertmanager.heartbeatReceiver;
    expect(of(review(raw), "alert-delivery")).toEqual([expect.objectContaining({ path: "homefleet:monitoring.alertmanager.heartbeatReceiver" })]);
  });
});

describe("coverage", () => {
  it("volume-live-database: a database's files archived while it runs, by image or by data directory; not for ephemeral or other volumes, nor the engine's own snapshots", () => {
    const raw = base();
    raw.stacks.app.container.volumes = [
      { source: "/srv/app/images", target: "/var/www/images" },
      { source: "/srv/app/pg", target: "/var/lib/postgresql/data" },
      { source: "/srv/app/cache", target: "/var/lib/mysql", ephemeral: true },
    ];
    raw.stacks.vectors = { host: "pi", network: { subnet: "10.89.2.0/24" }, container: { image: "docker.io/qdrant/qdrant:v1.12.4", port: 6333, publish: { hostPort: 6333 }, healthCheck: { path: "/readyz" }, volumes: [{ source: "/srv/qdrant", target: "/storage" }, { source: "/srv/qdrant-snapshots", target: "/qdrant/snapshots" }] } };
    const found = of(review(raw), "volume-live-database");
    expect(found.map((f) => [f.path, f.message])).toEqual([
      ["homefleet:stacks.app.container.volumes.1", "/srv/app/pg holds database (/var/lib/postgresql) files, archived while the container runs"],
      ["homefleet:stacks.vectors.container.volumes.0", "/srv/qdrant holds qdrant files, archived while the container runs"],
    ]);
    expect(found.every((f) => f.severity === "warning")).toBe(true);
  });

  it("backup-coverage, monitoring-coverage, certificate-coverage: warnings when no Prometheus evaluates the alerts", () => {
    const raw = base();
    delete raw.monitoring;
    const findings = review(raw);
    expect(of(findings, "backup-coverage").map((f) => f.path).sort()).toEqual(["homefleet:stacks.app.database", "homefleet:stacks.llm.cache", "homefleet:stacks.llm.database"]);
    expect(of(findings, "monitoring-coverage").map((f) => f.path).sort()).toEqual(["homefleet:stacks.app", "homefleet:stacks.llm"]);
    expect(of(findings, "certificate-coverage")).toEqual([expect.objectContaining({ severity: "warning", path: "homefleet:hosts.box.certificates.web" })]);
  });

  it("backup-coverage: an error when a database has no backup at all", () => {
    const found = of(
      review(base(), (r) => {
        const ops = r.model.hosts.find((h) => h.name === "pi")!.operations as unknown as { services: { name: string }[] };
        ops.services = ops.services.filter((s) => s.name !== "homefleet-backup-postgresql");
      }),
      "backup-coverage",
    );
    expect(found).toEqual([expect.objectContaining({ severity: "error", path: "homefleet:stacks.app.database" })]);
  });

  it("monitoring-unreachable: exporters on another host's loopback", () => {
    const raw = base();
    raw.hosts.pi.monitoring.listenAddress = "127.0.0.1";
    const findings = review(raw);
    expect(of(findings, "monitoring-unreachable").length).toBeGreaterThanOrEqual(3);
    expect(of(findings, "monitoring-coverage").map((f) => f.path)).toEqual(["homefleet:stacks.app"]);
  });
});

describe("security", () => {
  it("trust-authentication: a trust line in pg_hba.conf", () => {
    const found = of(review(base(), (r) => editFile(r, "box", "/etc/postgresql/15/main/pg_hba.conf", (t) => t + "host all all 0.0.0.0/0 trust\n")), "trust-authentication");
    expect(found).toEqual([expect.objectContaining({ severity: "error", path: "homefleet:hosts.box.postgresql" })]);
  });

  it("host-network: a container on the host's network", () => {
    const raw = base();
    raw.stacks.app.network = { mode: "host" };
    expect(of(review(raw), "host-network")).toEqual([expect.objectContaining({ severity: "warning", path: "homefleet:stacks.app.network.mode" })]);
  });

  it("exposure: a unit above the limit", () => {
    const exposure = new Map([["box", new Map([["redis-llm.service", 4.2], ["podman-llm.service", 9.0], ["homefleet-backup-config.service", 0.9]])]]);
    const found = of(review(base(), undefined, exposure), "exposure");
    expect(found).toHaveLength(1);
    expect(found[0].message).toContain("redis-llm.service scores 4.2");
  });

  it("secret-insecure: a secret file path passed as an argument, and a password in Environment=", () => {
    const found = of(
      review(base(), (r) =>
        editUnit(r, "box", "homefleet-redis-exporter-llm.service", (u) => ({
          ...u,
          environment: { ...u.environment, REDIS_PASSWORD: "hunter2" },
          arguments: [...u.arguments, "/var/lib/homefleet/secrets/llm/cache-password"],
        })),
      ),
      "secret-insecure",
    );
    expect(found.map((f) => f.message).sort()).toEqual([
      "homefleet-redis-exporter-llm.service names the secret file /var/lib/homefleet/secrets/llm/cache-password in an argument",
      "homefleet-redis-exporter-llm.service sets a secret-looking variable in Environment=: REDIS_PASSWORD",
    ]);
  });

  it("resource-limits: a container unit without MemoryMax", () => {
    const found = of(review(base(), (r) => editUnit(r, "box", "podman-llm.service", (u) => ({ ...u, memoryMax: undefined }))), "resource-limits");
    expect(found).toEqual([expect.objectContaining({ path: "homefleet:stacks.llm.container" })]);
  });
});

describe("LiteLLM", () => {
  it("litellm-fallback: a fallback to a model the proxy does not serve, and a cycle", () => {
    const found = of(
      review(base(), (r) => {
        const doc = r.model.hosts.find((h) => h.name === "box")!.stacks[0].litellmConfig!.document as { litellm_settings: { fallbacks: Record<string, string[]>[] } };
        doc.litellm_settings.fallbacks = [{ a: ["b"] }, { b: ["a", "ghost"] }];
      }),
      "litellm-fallback",
    );
    expect(found.map((f) => f.message).sort()).toEqual(["fallbacks of llm cycle: a -> b -> a", "fallbacks of llm names ghost, which the proxy does not serve"]);
  });

  it("litellm-timeouts: router timeout above the request timeout", () => {
    const raw = base();
    raw.stacks.llm.litellm.router = { timeout: 90 };
    expect(of(review(raw), "litellm-timeouts")).toEqual([expect.objectContaining({ severity: "warning", path: "homefleet:stacks.llm.litellm.router.timeout" })]);
  });
});

describe("accepting a finding", () => {
  it("marks it accepted with the reason, and reports accepts that match nothing", () => {
    const raw = base();
    raw.stacks.app.network = { mode: "host" };
    raw.review = {
      accept: [
        { check: "host-network", path: "homefleet:stacks.app.network.mode", reason: "wallabag needs the host's mDNS responder" },
        { check: "port-clash", path: "homefleet:hosts.nowhere", reason: "left over from an old host" },
      ],
    };
    const config = load(raw);
    const result = reviewFleet({ config, render: renderFleet(config) });
    expect(of([...result.findings], "host-network")[0].acceptedBecause).toBe("wallabag needs the host's mDNS responder");
    expect(result.unusedAccepts).toEqual([{ check: "port-clash", path: "homefleet:hosts.nowhere" }]);
  });

  it("refuses an acceptance without a real reason", () => {
    const raw = base();
    raw.review = { accept: [{ check: "host-network", path: "x", reason: "ok" }] };
    expect(() => load(raw)).toThrow(/homefleet:review\.accept\.0\.reason: expected a written reason/);
  });
});
