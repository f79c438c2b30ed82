/**
 * Native services (`homefleet:stacks.<s>.native`): a nixpkgs module on NixOS or a Debian package
 * on a plain systemd host, with homefleet's ordering, backups, monitoring and review applied.
 * Config refuses what cannot work; both flavours' renders pass their real validators
 * (nix-instantiate, systemd-analyze verify against the packaged units installed here); the model
 * carries the units, listeners, probes, archives and proxy upstream.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFleet, type HostBundle } from "../bundle/hostBundle";
import { ConfigError, formatProblem, loadStackFile, parseFleetConfig } from "../config/load";
import { reviewFleet } from "../review";
import { reviewJson, reviewMarkdown } from "../review/report";
import { nixEvalJson, nixParse, run, verifyUnits } from "./support/validators";

const FIXTURE = join(__dirname, "fixtures", "native.yaml");

type Raw = Record<string, any>;

const hosts = (os: "nixos" | "systemd" = "nixos"): Raw => ({ box: { address: "192.0.2.10", arch: "x86_64", os } });

function problems(stacks: Raw, os: "nixos" | "systemd" = "nixos"): string[] {
  try {
    parseFleetConfig({ hosts: hosts(os), stacks });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map(formatProblem);
  }
}

describe("config: a native stack", () => {
  it("names a service of the catalogue", () => {
    expect(problems({ wiki: { host: "box", native: { service: "mediawiki" } } })).toEqual([
      'homefleet:stacks.wiki.native.service: expected one of the services homefleet runs natively: avahi, cockpit, dovecot, glance, grafana, home-assistant, jellyfin, loki, nagios, node-red, pgadmin, postfix, promtail, samba, samba-wsdd, sanoid, step-ca, technitium-dns-server, victoriametrics, got "mediawiki"',
    ]);
  });

  it("refuses on a Debian host a service Debian does not package, naming the path and why", () => {
    expect(problems({ grafana: { host: "box", native: { service: "grafana" } } }, "systemd")).toEqual([
      "homefleet:stacks.grafana.native.service: Grafana cannot run natively on host box (os: systemd): Debian bookworm does not package Grafana (only Grafana's own apt repository does); run it as a container stack instead, or on a NixOS host",
    ]);
  });

  it("refuses a secret written in clear in an option, without printing it", () => {
    const found = problems({ grafana: { host: "box", native: { service: "grafana", options: { settings: { security: { admin_password: "hunter2-canary" } } } } } });
    expect(found).toEqual([
      "homefleet:stacks.grafana.native.options.settings.security.admin_password: holds a secret in clear, which would be written into the world-readable Nix store: give the path of a file the service reads (its ...File option, or $__file{PATH})",
    ]);
    expect(found.join("\n")).not.toContain("hunter2-canary");
    // A file path or a reference the service resolves is what such a key should hold.
    expect(problems({ grafana: { host: "box", native: { service: "grafana", options: { settings: { security: { admin_password: "$__file{/var/lib/grafana/admin}" } } } } } })).toEqual([]);
    expect(problems({ ca: { host: "box", native: { service: "step-ca", options: { intermediatePasswordFile: "/var/lib/step-ca/password" } } } })).toEqual([]);
  });

  it("has exactly one of container and native", () => {
    expect(problems({ app: { host: "box" } })).toEqual(["homefleet:stacks.app: expected container (a podman container) or native (a service of the host's distribution)"]);
    const both = { host: "box", container: { image: "docker.io/library/nginx:1.27.3", port: 8080, healthCheck: { path: "/" } }, native: { service: "avahi" } };
    expect(problems({ app: both })).toEqual(["homefleet:stacks.app: give either container or native, not both"]);
  });

  it("takes no module options on Debian, where the package keeps its own configuration", () => {
    expect(problems({ smb: { host: "box", native: { service: "samba", options: { settings: { global: { workgroup: "HOME" } } } } } }, "systemd")).toEqual([
      "homefleet:stacks.smb.native.options: options are NixOS module options (services.samba); on a Debian host the package keeps its own configuration files and homefleet writes only a drop-in for its units",
    ]);
  });

  it("keeps the keys homefleet sets out of options, and container-only keys off a native stack", () => {
    expect(problems({ grafana: { host: "box", network: { subnet: "10.89.3.0/24" }, native: { service: "grafana", options: { enable: false, settings: { server: { http_port: 3001 } } } } } })).toEqual([
      "homefleet:stacks.grafana.native.options.enable: homefleet enables the service",
      "homefleet:stacks.grafana.native.options.settings.server.http_port: set native.port instead",
      "homefleet:stacks.grafana.network: a native service runs on the host's network: network applies to containers only",
    ]);
  });

  it("connects Home Assistant by peer as its system user, so the role must be that user", () => {
    expect(problems({ hass: { host: "box", native: { service: "home-assistant" }, database: { user: "recorder" } } })).toEqual([
      "homefleet:stacks.hass.database.user: Home Assistant connects over PostgreSQL's socket as its system user hass, by peer authentication: the role must be hass (leave user out)",
    ]);
    expect(problems({ red: { host: "box", native: { service: "node-red" }, database: {} } })).toEqual([
      "homefleet:stacks.red.database: homefleet does not know how Node-RED connects to PostgreSQL; give its connection in native.options and leave database out, or run it as a container",
    ]);
  });

  it("sets VictoriaMetrics' address and port through native.address and native.port, not its listenAddress option", () => {
    expect(problems({ vm: { host: "box", native: { service: "victoriametrics", options: { listenAddress: ":9428" } } } })).toEqual(["homefleet:stacks.vm.native.options.listenAddress: set native.address and native.port instead"]);
    expect(problems({ vm: { host: "box", native: { service: "victoriametrics", port: 9428, address: "192.0.2.10" } } })).toEqual([]);
  });

  it("takes an HTTP health check only where the port speaks plain HTTP", () => {
    expect(problems({ ca: { host: "box", native: { service: "step-ca", healthCheck: { path: "/health" } } }, mdns: { host: "box", native: { service: "avahi", healthCheck: { path: "/" } } } })).toEqual([
      "homefleet:stacks.ca.native.healthCheck: step-ca serves HTTPS only: the deployment checks that its unit is active",
      "homefleet:stacks.mdns.native.healthCheck: Avahi serves no HTTP port: the deployment checks that its unit is active",
    ]);
    expect(problems({ red: { host: "box", native: { service: "node-red", healthCheck: { path: "/flows", timeoutSec: 300 } } } })).toEqual([]);
  });

  it("claims the service's port like any listener", () => {
    expect(problems({ grafana: { host: "box", native: { service: "grafana", port: 5432 } } })).toEqual(["homefleet:stacks.grafana.native.port: port 5432 on host box is already used by homefleet:hosts.box.postgresql.port"]);
  });
});

describe("the fixture on both flavours", () => {
  const config = loadStackFile(FIXTURE);
  const render = renderFleet(config);
  const bundle = (name: string): HostBundle => render.bundles.find((b) => b.host.name === name)!;
  const file = (host: string, path: string) => {
    const f = bundle(host).files.find((x) => x.path === path);
    if (!f) throw new Error(`${host} has no ${path}`);
    return f.content;
  };

  /** Evaluates one rendered module with stub arguments and returns the JSON of `attr` (bindings stay lazy). */
  function evalModule(name: string, attr: string): unknown {
    const tmp = mkdtempSync(join(tmpdir(), "hf-native-"));
    try {
      writeFileSync(join(tmp, "m.nix"), file("nix", `/etc/nixos/homefleet/${name}.nix`));
      return nixEvalJson(`(import ${tmp}/m.nix { config = {}; lib = { mkForce = x: x; }; pkgs = {}; }).${attr}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  it("NixOS: every module parses, with no output", () => {
    const modules = bundle("nix").files.filter((f) => f.path.endsWith(".nix"));
    expect(modules.length).toBeGreaterThan(5);
    for (const m of modules) expect({ path: m.path, ...nixParse(m.content) }).toMatchObject({ path: m.path, status: 0, stderr: "" });
  });

  it("NixOS: the module's options are homefleet's (enable, port, address, database) merged with the config's", () => {
    expect(evalModule("grafana", "services.grafana")).toEqual({
      enable: true,
      settings: {
        analytics: { reporting_enabled: false },
        security: { admin_password: "$__file{/var/lib/grafana/admin-password}" },
        server: { http_addr: "127.0.0.1", http_port: 3000 },
        // Over loopback with the role's password, read from the unit's credential: never in the store.
        database: { type: "postgres", host: "127.0.0.1:5432", name: "grafana", user: "grafana", password: "$__file{/run/credentials/grafana.service/database-password}" },
      },
    });
    expect(evalModule("grafana", "systemd.services.grafana")).toEqual({
      after: ["homefleet-postgresql-grafana.service"],
      wants: ["homefleet-postgresql-grafana.service"],
      serviceConfig: { LoadCredential: ["database-password:/var/lib/homefleet/secrets/grafana/database-password"] },
    });
    expect(evalModule("home-assistant", "services.home-assistant.config")).toEqual({
      homeassistant: { name: "Home", unit_system: "metric" },
      http: { server_host: "127.0.0.1", server_port: 8123, use_x_forwarded_for: true, trusted_proxies: ["127.0.0.1"] },
      recorder: { db_url: "postgresql://@/home_assistant" },
    });
    // extraPackages is a function of the Python package set: applied to a stand-in set, it picks psycopg2.
    expect(evalModule("home-assistant", 'services.home-assistant.extraPackages { psycopg2 = "PSYCOPG2"; }')).toEqual(["PSYCOPG2"]);
    expect(evalModule("home-assistant", "systemd.services.home-assistant.serviceConfig")).toEqual({ MemoryMax: "2G" });
    expect(evalModule("jellyfin", "systemd.services.jellyfin.unitConfig")).toEqual({ RequiresMountsFor: ["/tank", "/tank/media/jellyfin-config"] });
    // VictoriaMetrics takes address and port in one option.
    expect(evalModule("metrics", "services.victoriametrics")).toEqual({ enable: true, listenAddress: "127.0.0.1:8428", retentionPeriod: "90d" });
    expect(evalModule("nix-samba", "services.samba.settings.family")).toEqual({ path: "/tank/family", "read only": "no" });
    // winbindd turned off in options: its unit is not the host's, and gets no settings (which would define an empty unit).
    expect(evalModule("nix-samba", "systemd.services")).toEqual({
      "samba-smbd": { unitConfig: { RequiresMountsFor: ["/tank/family"] } },
      "samba-nmbd": { unitConfig: { RequiresMountsFor: ["/tank/family"] } },
    });
    expect(bundle("nix").host.units.filter((u) => u.stack === "nix-samba" && u.source === "distribution").map((u) => u.name)).toEqual(["samba-nmbd.service", "samba-smbd.service"]);
  });

  it("NixOS: pg_hba admits Home Assistant over the socket as hass, Grafana over loopback with its password", () => {
    const rules = bundle("nix").host.postgres!.databases;
    expect(rules.map((d) => [d.name, d.user, d.localPeer ?? false])).toEqual([
      ["grafana", "grafana", false],
      ["home_assistant", "hass", true],
    ]);
    const hostNix = file("nix", "/etc/nixos/homefleet/host.nix");
    expect(hostNix).toContain('local "home_assistant" "hass" peer');
    expect(hostNix).toContain('host "grafana" "grafana" 127.0.0.1/32 scram-sha-256');
  });

  it("Debian: drop-ins on the packaged units, verified against the packages' own unit files with no output", () => {
    const deb = bundle("deb");
    expect(file("deb", "/etc/systemd/system/smbd.service.d/50-homefleet.conf")).toContain("[Unit]\nRequiresMountsFor=/tank\nRequiresMountsFor=/tank/shares\n\n[Service]\nMemoryMax=1G\n");
    expect(file("deb", "/etc/systemd/system/sanoid.service.d/50-homefleet.conf")).toContain("RequiresMountsFor=/tank\n");
    // Nothing to add to Avahi and Postfix: no drop-in at all.
    expect(deb.files.filter((f) => /avahi|postfix/.test(f.path))).toEqual([]);
    const result = verifyUnits(deb.files);
    expect(result.units).toEqual(expect.arrayContaining(["smbd.service", "nmbd.service", "sanoid.service"]));
    expect(`${result.stdout}${result.stderr}`).toBe("");
    expect(result.status).toBe(0);
  });

  it("Debian: the deployment installs the packages, starts the units (a timer, not its oneshot) and gates on them", () => {
    const m = bundle("deb").manifest;
    expect(m.packages).toEqual(expect.arrayContaining(["avahi-daemon", "postfix", "samba", "sanoid"]));
    expect(m.start).toEqual(expect.arrayContaining(["avahi-daemon.service", "postfix.service", "smbd.service", "nmbd.service", "sanoid.timer"]));
    expect(m.start).not.toContain("sanoid.service");
    expect(m.healthChecks).toEqual(expect.arrayContaining([{ kind: "unit", unit: "smbd.service", timeoutSec: 180 }, { kind: "unit", unit: "sanoid.timer", timeoutSec: 180 }]));
    // A drop-in change restarts the unit it extends.
    expect(m.files.find((f) => f.path === "/etc/systemd/system/smbd.service.d/50-homefleet.conf")).toMatchObject({ restart: ["smbd.service"] });
  });

  it("the model: distribution units of the stack, listeners, probes, archives and the proxy's upstream", () => {
    const nix = bundle("nix").host;
    expect(nix.units.find((u) => u.name === "grafana.service")).toMatchObject({ source: "distribution", stack: "grafana", after: ["homefleet-postgresql-grafana.service"], secretFiles: ["/var/lib/homefleet/secrets/grafana/database-password"] });
    expect(nix.stacks.find((s) => s.name === "grafana")!.listeners).toEqual([{ address: "127.0.0.1", port: 3000, protocol: "tcp", owner: "grafana.service" }]);
    expect(nix.operations.probes).toEqual([
      { stack: "grafana", kind: "container", url: "http://127.0.0.1:3000/api/health" },
      { stack: "home-assistant", kind: "container", url: "http://127.0.0.1:8123/manifest.json" },
      { stack: "jellyfin", kind: "container", url: "http://127.0.0.1:8096/health" },
      { stack: "metrics", kind: "container", url: "http://127.0.0.1:8428/health" },
    ]);
    expect(nix.proxy!.vhosts[0].upstream).toBe("http://127.0.0.1:3000");
    const deb = bundle("deb").host;
    const archive = deb.operations.backups.find((b) => b.kind === "volumes" && b.stack === "samba");
    expect(archive).toMatchObject({ job: "homefleet-backup-volumes-samba", saves: ["/tank/shares", "/var/lib/samba"] });
    // The service's own user owns its data (0700): the archive reads it with CAP_DAC_READ_SEARCH alone.
    expect(deb.operations.services.find((s) => s.name === "homefleet-backup-volumes-samba")!.hardening).toMatchObject({ CapabilityBoundingSet: "CAP_DAC_READ_SEARCH", PrivateNetwork: "yes" });
    expect(deb.operations.backups.some((b) => b.stack === "avahi")).toBe(false);
  });

  it("the review lists its port, its units in the graph and its coverage row", () => {
    const review = reviewFleet({ config, render });
    const markdown = reviewMarkdown({ title: "native", render, review });
    const json = JSON.parse(reviewJson({ title: "native", render, review })) as { hosts: { name: string; stacks: Raw[]; units: string[]; listeners: Raw[] }[] };
    const nix = json.hosts.find((h) => h.name === "nix")!;
    expect(nix.stacks.find((s) => s.name === "grafana")).toMatchObject({ kind: "container", native: "grafana", image: null, database: "grafana" });
    expect(nix.units).toEqual(expect.arrayContaining(["grafana.service", "home-assistant.service", "jellyfin.service", "samba-smbd.service"]));
    expect(nix.listeners).toEqual(expect.arrayContaining([{ address: "0.0.0.0", port: 8096, protocol: "tcp", owner: "jellyfin.service" }]));
    // The proxy forwards to Grafana where it listens: no proxy-upstream finding. A URL nothing listens on gets one.
    expect(review.findings.filter((f) => f.check === "proxy-upstream")).toEqual([]);
    const hostsRaw = JSON.parse(JSON.stringify(config.hosts));
    hostsRaw.nix.proxy.vhosts.grafana.upstream = { url: "http://127.0.0.1:3001" };
    const moved = parseFleetConfig({ hosts: hostsRaw, stacks: JSON.parse(JSON.stringify(config.stacks)), monitoring: config.monitoring });
    expect(reviewFleet({ config: moved, render: renderFleet(moved) }).findings.filter((f) => f.check === "proxy-upstream").map((f) => f.message)).toEqual(["grafana forwards to http://127.0.0.1:3001, where nothing homefleet runs on nix listens"]);
    expect(markdown).toContain("| nix | grafana | grafana | data archive");
    expect(markdown).toContain("blackbox probe | HealthEndpointFailing, HomefleetUnitFailed |");
  });
});

describe("alerts on a native service's units, judged by promtool", () => {
  const rules = renderFleet(loadStackFile(FIXTURE)).bundles.find((b) => b.host.name === "nix")!.files.find((f) => f.path.endsWith("/prometheus/homefleet-rules.yml"))!.content;

  /** promtool test rules with one series of node_systemd_unit_state for NAME in STATE, and the alerts expected at 10m. */
  function firing(name: string, state: "failed" | "inactive"): string[] {
    const dir = mkdtempSync(join(tmpdir(), "hf-native-promtool-"));
    try {
      writeFileSync(join(dir, "rules.yml"), rules);
      const series = (s: string) => `node_systemd_unit_state{instance="nix:9100",job="node",name="${name}",state="${s}"}`;
      // The unit is never active; it is failed when STATE says so (else merely inactive).
      const values = (s: string) => (s === "failed" && state === "failed" ? "1x20" : "0x20");
      const alerts = ["HomefleetUnitFailed", "SystemdUnitFailed", "HomefleetUnitInactive"];
      const test = [
        "rule_files: [rules.yml]",
        "evaluation_interval: 1m",
        "tests:",
        "  - interval: 1m",
        "    input_series:",
        ...["active", "failed"].map((s) => `      - series: '${series(s)}'\n        values: '${values(s)}'`),
        "    alert_rule_test:",
        ...alerts.map((a) => `      - eval_time: 15m\n        alertname: ${a}\n        exp_alerts: []`),
      ].join("\n");
      writeFileSync(join(dir, "test.yml"), `${test}\n`);
      const r = run("promtool", ["test", "rules", join(dir, "test.yml")]);
      if (r.status === 0) return [];
      // promtool names each alert whose expectation (none firing) failed.
      return alerts.filter((a) => new RegExp(`alertname: ${a},`).test(`${r.stdout}${r.stderr}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("the rules pass promtool's lint", () => {
    const dir = mkdtempSync(join(tmpdir(), "hf-native-promtool-"));
    try {
      writeFileSync(join(dir, "rules.yml"), rules);
      const r = run("promtool", ["check", "rules", "--lint=all", "--lint-fatal", join(dir, "rules.yml")]);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a failed native unit raises HomefleetUnitFailed (critical), not the warning for units homefleet does not manage", () => {
    expect(firing("grafana.service", "failed")).toEqual(["HomefleetUnitFailed"]);
    expect(firing("smbd.service", "failed")).toEqual(["HomefleetUnitFailed"]);
    // A unit of no stack stays with the warning.
    expect(firing("cups.service", "failed")).toEqual(["SystemdUnitFailed"]);
  });

  it("a started native unit that is not active raises HomefleetUnitInactive; a timer-driven oneshot does not", () => {
    expect(firing("jellyfin.service", "inactive")).toEqual(["HomefleetUnitInactive"]);
    expect(firing("sanoid.timer", "inactive")).toEqual(["HomefleetUnitInactive"]);
    expect(firing("sanoid.service", "inactive")).toEqual([]);
  });
});

describe("a socket-activated service (Cockpit)", () => {
  it("is gated on its socket, sets the module's port on NixOS, and cannot move off 9090 on Debian", () => {
    const nix = renderFleet(parseFleetConfig({ hosts: hosts("nixos"), stacks: { cockpit: { host: "box", native: { service: "cockpit", port: 9091 } } } })).bundles[0];
    const stack = nix.host.stacks[0];
    expect(stack.native!.options).toEqual({ enable: true, port: 9091 });
    expect(stack.healthChecks).toEqual([{ kind: "unit", unit: "cockpit.socket", timeoutSec: 180 }]);
    expect(nix.host.units.filter((u) => u.stack === "cockpit").map((u) => [u.name, u.start])).toEqual([
      ["cockpit-wsinstance-http.service", false],
      ["cockpit.service", false],
      ["cockpit.socket", true],
    ]);
    expect(stack.listeners).toEqual([{ address: "0.0.0.0", port: 9091, protocol: "tcp", owner: "cockpit.socket" }]);
    expect(problems({ cockpit: { host: "box", native: { service: "cockpit", port: 9091 } } }, "systemd")).toEqual(["homefleet:stacks.cockpit.native.port: Cockpit has no port setting homefleet can write on this host: it listens on 9090"]);
  });
});

describe("a native stack with a cache of its own", () => {
  it("orders the service after its Redis and hands it the password as a credential; systemd-analyze verify prints nothing", () => {
    const render = renderFleet(parseFleetConfig({ hosts: hosts("systemd"), stacks: { mdns: { host: "box", native: { service: "avahi" }, cache: { port: 6390 } } } }));
    const files = render.bundles[0].files;
    const dropIn = files.find((f) => f.path === "/etc/systemd/system/avahi-daemon.service.d/50-homefleet.conf")!.content;
    expect(dropIn).toContain("[Unit]\nAfter=redis-mdns.service\nWants=redis-mdns.service\n");
    expect(dropIn).toContain("[Service]\nLoadCredential=cache-password:/var/lib/homefleet/secrets/mdns/cache-password\n");
    expect(render.bundles[0].host.units.find((u) => u.name === "avahi-daemon.service")!.secretFiles).toEqual(["/var/lib/homefleet/secrets/mdns/cache-password"]);
    // A new password restarts the service that reads it.
    expect(render.bundles[0].manifest.secretFiles.find((f) => f.path === "/var/lib/homefleet/secrets/mdns/cache-password")).toMatchObject({ restart: expect.arrayContaining(["avahi-daemon.service"]) });
    const result = verifyUnits(files);
    expect(`${result.stdout}${result.stderr}`).toBe("");
  });
});

describe("the stack file's JSON Schema", () => {
  it("accepts a native stack with nested JSON options (a recursive definition hoisted to the root) and names a misspelt key", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Ajv2020 = require("ajv/dist/2020").default;
    const { parse } = require("yaml") as typeof import("yaml");
    const { readFileSync } = require("node:fs") as typeof import("node:fs");
    const { stackFileJsonSchema } = require("../config/jsonSchema") as typeof import("../config/jsonSchema");
    const validate = new Ajv2020({ strict: false, allErrors: true, logger: false }).compile(stackFileJsonSchema());
    const doc = parse(readFileSync(FIXTURE, "utf8"));
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
    doc.config["homefleet:stacks"].grafana.native.servce = "grafana";
    expect(validate(doc)).toBe(false);
    expect(validate.errors).toEqual(expect.arrayContaining([expect.objectContaining({ instancePath: "/config/homefleet:stacks/grafana/native", params: { additionalProperty: "servce" } })]));
  });
});
