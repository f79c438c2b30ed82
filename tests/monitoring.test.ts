/**
 * Extended monitoring: extra scrape targets (a container's own /metrics, LiteLLM's metrics, the
 * exporters homefleet does not run), packaged exporters per flavour, the user's alert rules and
 * their promtool tests, and Grafana provisioned with the Prometheus datasource and a dashboard per
 * stack. Judged by the real promtool (check config, check rules, test rules) and nix-instantiate;
 * Grafana itself is not installable here (not packaged for Debian), so its dashboards are checked
 * for the fields its file provider needs and every query is parsed by promtool.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { renderFleet, type FleetRender } from "../bundle/hostBundle";
import { loadStackFile, parseFleetConfig, type ConfigProblem, type FleetConfig } from "../config/load";
import { buildFleetModel } from "../model/build";
import type { HostModel } from "../model/specs";
import { renderPrometheusConfig, renderUserRules } from "../render/common/prometheusConfig";
import { reviewFleet } from "../review";
import { allListeners } from "../review/checks";
import { runRuleTests } from "../review/ruleTests";
import { main } from "../cli/main";
import { projectRoot } from "./support/fleets";
import { nixParse, run, verifyUnits } from "./support/validators";
import { configProblems } from "./support/configProblems";

type Raw = Record<string, any>;

const FIXTURE = join(projectRoot(), "tests/fixtures/monitoring.yaml");
const config = loadStackFile(FIXTURE);
const render = renderFleet(config);
const hostNamed = (r: FleetRender, name: string) => r.bundles.find((b) => b.host.name === name)!;
const fileOf = (r: FleetRender, host: string, path: string) => hostNamed(r, host).files.find((f) => f.path === path)?.content;
const mon = hostNamed(render, "mon").host;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hf-monitoring-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small fleet as raw config: Debian host `deb`, NixOS host `nix`, with what each test adds. */
function fleet(edit: (f: { hosts: Raw; stacks: Raw; monitoring: Raw }) => void = () => {}): { hosts: Raw; stacks: Raw; monitoring: Raw; configKeys: string[] } {
  const f = {
    hosts: {
      deb: { address: "192.0.2.10", arch: "x86_64", os: "systemd" },
      nix: { address: "192.0.2.11", arch: "aarch64", os: "nixos" },
    } as Raw,
    stacks: {
      app: { host: "deb", network: { subnet: "10.89.1.0/24" }, container: { image: "docker.io/library/app:1.0", port: 8080, ports: [{ container: 9400 }], healthCheck: { path: "/healthz" } } },
      llm: { host: "nix", kind: "litellm", network: { subnet: "10.89.0.0/24" }, container: { image: "ghcr.io/berriai/litellm:v1.81.3" }, litellm: { models: [{ name: "a", model: "ollama/a" }] } },
    } as Raw,
    monitoring: { prometheusHost: "nix" } as Raw,
  };
  edit(f);
  // The secret keys the config refers to are set, as `pulumi config set --secret` would.
  const text = JSON.stringify(f);
  return { ...f, configKeys: ["hosts", "stacks", "monitoring", ...["gpw", "gkey"].filter((k) => text.includes(`"${k}"`) || text.includes(`config:${k}`))] };
}

const problems = (input: ReturnType<typeof fleet>): ConfigProblem[] => configProblems(input);

const renderOf = (input: ReturnType<typeof fleet>) => renderFleet(parseFleetConfig(input));

describe("both flavours render valid files", () => {
  it("NixOS: every module parses with nix-instantiate --parse", () => {
    const modules = hostNamed(render, "mon").files.filter((f) => f.path.endsWith(".nix"));
    expect(modules.length).toBeGreaterThanOrEqual(3);
    for (const f of modules) {
      const r = nixParse(f.content);
      expect({ file: f.path, status: r.status, stderr: r.stderr }).toEqual({ file: f.path, status: 0, stderr: "" });
    }
  });

  it("Debian: every unit passes systemd-analyze verify with no output at all", () => {
    const r = verifyUnits(hostNamed(render, "deb").files);
    expect(r.units.length).toBeGreaterThanOrEqual(3);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: "", stderr: "" });
  });

  it("Debian as the Prometheus host: prometheus.yml with the user's rules passes promtool check config", () => {
    const r = renderOf(fleet((f) => ((f.monitoring.prometheusHost = "deb"), (f.hosts.deb.exporters = ["nginx"]), (f.monitoring.rules = { mine: [{ alert: "AppDown", expr: "up == 0", labels: { severity: "warning" } }] }))));
    for (const name of ["prometheus.yml", "homefleet-rules.yml", "homefleet-user-rules.yml"]) writeFileSync(join(dir, `deb-${name}`), fileOf(r, "deb", `/etc/prometheus/${name}`)!.split("/etc/prometheus/").join(`${dir}/deb-`));
    const checked = run("promtool", ["check", "config", join(dir, "deb-prometheus.yml")]);
    expect({ status: checked.status, stderr: checked.stderr }).toEqual({ status: 0, stderr: "" });
    expect(checked.stdout).toContain("SUCCESS: 2 rule files found");
    const units = verifyUnits(hostNamed(r, "deb").files);
    expect({ status: units.status, stdout: units.stdout, stderr: units.stderr }).toEqual({ status: 0, stdout: "", stderr: "" });
  });
});

describe("config errors name the config path", () => {
  it.each<[string, (f: Raw) => void, string, RegExp]>([
    ["an exporter Debian does not package", (f) => (f.hosts.deb.exporters = ["nginx", "zfs"]), "homefleet:hosts.deb.exporters.1", /Debian bookworm has no prometheus-zfs-exporter package/],
    ["an exporter homefleet does not know", (f) => (f.hosts.nix.exporters = ["kafka"]), "homefleet:hosts.nix.exporters.0", /expected one of nginx, postfix/],
    ["the same exporter twice", (f) => (f.hosts.nix.exporters = ["zfs", "zfs"]), "homefleet:hosts.nix.exporters.1", /listed twice/],
    ["a metrics port the stack does not publish", (f) => (f.stacks.app.metrics = { port: 9500 }), "homefleet:stacks.app.metrics.port", /neither the container's main port \(8080\) nor a TCP port of container.ports \(9400\)/],
    ["a metrics path that is not one", (f) => (f.stacks.app.metrics = { path: "metrics" }), "homefleet:stacks.app.metrics.path", /absolute URL path/],
    ["LiteLLM's metrics twice", (f) => ((f.stacks.llm.litellm.prometheusMetrics = true), (f.stacks.llm.metrics = {})), "homefleet:stacks.llm.metrics", /scrapes LiteLLM's \/metrics\/ already/],
    ["a scrape target named like homefleet's job", (f) => (f.monitoring.scrapeTargets = { node: { host: "nix", port: 9999 } }), "homefleet:monitoring.scrapeTargets.node", /a job of homefleet's own scrape config/],
    ["a scrape target on an unknown host", (f) => (f.monitoring.scrapeTargets = { "node-red": { host: "vulcan", port: 1880 } }), "homefleet:monitoring.scrapeTargets.node-red.host", /unknown host "vulcan"/],
    ["a scrape target over ftp", (f) => (f.monitoring.scrapeTargets = { x: { host: "nix", port: 1, scheme: "ftp" } }), "homefleet:monitoring.scrapeTargets.x.scheme", /expected one of "http"\|"https"|http/],
    ["a user alert with homefleet's name", (f) => (f.monitoring.rules = { mine: [{ alert: "HealthEndpointFailing", expr: "up == 0" }] }), "homefleet:monitoring.rules.mine.0.alert", /one of homefleet's own alerts/],
    ["a group named like homefleet's", (f) => (f.monitoring.rules = { "homefleet.extra": [{ alert: "X", expr: "up == 0" }] }), "homefleet:monitoring.rules.homefleet.extra", /homefleet's own rules/],
    ["a rule tied to an unknown stack", (f) => (f.monitoring.rules = { mine: [{ alert: "X", expr: "up == 0", labels: { stack: "nope" } }] }), "homefleet:monitoring.rules.mine.0.labels.stack", /unknown stack "nope"/],
    ["a severity Alertmanager does not route", (f) => (f.monitoring.rules = { mine: [{ alert: "X", expr: "up == 0", labels: { severity: "page" } }] }), "homefleet:monitoring.rules.mine.0.labels.severity", /expected critical, warning or info/],
    ["a rule duration Prometheus cannot read", (f) => (f.monitoring.rules = { mine: [{ alert: "X", expr: "up == 0", for: "5 minutes" }] }), "homefleet:monitoring.rules.mine.0.for", /Prometheus duration/],
    ["a rule test without series", (f) => (f.monitoring.ruleTests = [{ input_series: [] }]), "homefleet:monitoring.ruleTests.0.input_series", /at least one input series/],
    ["Grafana on a Debian Prometheus host", (f) => ((f.monitoring.prometheusHost = "deb"), (f.monitoring.grafana = { adminPasswordConfig: "gpw", secretKeyConfig: "gkey" })), "homefleet:monitoring.grafana", /Grafana is not packaged for Debian bookworm/],
    ["Grafana twice on one host: provisioned and as a native stack", (f) => ((f.monitoring.grafana = { adminPasswordConfig: "gpw", secretKeyConfig: "gkey" }), (f.stacks.dash = { host: "nix", native: { service: "grafana" } })), "homefleet:stacks.dash.native.service", /runs Grafana on nix already/],
    ["metrics on a native stack", (f) => (f.stacks.dash = { host: "nix", native: { service: "node-red" }, metrics: {} }), "homefleet:stacks.dash.metrics", /a native service's metrics are scraped as homefleet:monitoring.scrapeTargets/],
    ["Grafana away from Prometheus", (f) => (f.monitoring.grafana = { host: "deb", adminPasswordConfig: "gpw", secretKeyConfig: "gkey" }), "homefleet:monitoring.grafana.host", /runs on the Prometheus host \(nix\)/],
    ["Grafana without its admin password", (f) => (f.monitoring.grafana = { secretKeyConfig: "gkey" }), "homefleet:monitoring.grafana.adminPasswordConfig", /required/],
    ["Grafana's admin password in clear", (f) => (f.monitoring.grafana = { adminPassword: "hunter2", adminPasswordConfig: "gpw", secretKeyConfig: "gkey" }), "homefleet:monitoring.grafana.adminPassword", /unknown key "adminPassword"/],
    ["Grafana's password from a key that is not set", (f) => (f.monitoring.grafana = { adminPasswordConfig: "grafanaPassword", secretKeyConfig: "gkey" }), "homefleet:monitoring.grafana.adminPasswordConfig", /config key homefleet:grafanaPassword is not set/],
  ])("%s", (_what, edit, path, message) => {
    const found = problems(fleet(edit)).filter((p) => p.path === path);
    expect(found.map((p) => p.message).join("\n")).toMatch(message);
  });

  it("refuses no packaged exporter on the flavour that has it", () => {
    expect(() => parseFleetConfig(fleet((f) => ((f.hosts.deb.exporters = ["nginx", "postfix", "bind"]), (f.hosts.nix.exporters = ["nginx", "postfix", "bind", "dovecot", "zfs", "php-fpm", "smartctl"]))))).not.toThrow();
  });
});

describe("extra scrape targets", () => {
  const prometheus = mon.prometheus!;
  const job = (name: string) => prometheus.scrapeConfigs.find((c) => c.job_name === name) as Raw | undefined;

  it("scrapes a container's own /metrics at the published port Prometheus reaches, and LiteLLM's /metrics/", () => {
    expect(job("stack-metrics")!.static_configs).toEqual([
      { targets: ["192.0.2.21:9400"], labels: { host: "deb", stack: "app", kind: "container", __metrics_path__: "/metrics" } },
      { targets: ["127.0.0.1:4000"], labels: { host: "mon", stack: "llm", kind: "litellm", __metrics_path__: "/metrics/" } },
    ]);
  });

  it("turns on LiteLLM's prometheus callback in its config", () => {
    const stack = mon.stacks.find((s) => s.name === "llm")!;
    expect((stack.litellmConfig!.document.litellm_settings as Raw).callbacks).toEqual(["prometheus"]);
    expect(fileOf(render, "mon", "/etc/nixos/homefleet/llm/litellm-config.yaml")).toMatch(/callbacks:\n\s+- prometheus/);
  });

  it("scrapes the exporters homefleet does not run, loopback on the Prometheus host and the listen address elsewhere", () => {
    expect(job("node-red")).toEqual({ job_name: "node-red", metrics_path: "/metrics", static_configs: [{ targets: ["127.0.0.1:1880"], labels: { host: "mon" } }] });
    expect(job("dns-query-log")).toEqual({ job_name: "dns-query-log", metrics_path: "/metrics", static_configs: [{ targets: ["192.0.2.21:9553"], labels: { host: "deb" } }] });
  });

  it("runs the packaged exporters on request and scrapes each as its own job", () => {
    expect(job("nginx")!.static_configs).toEqual([{ targets: ["192.0.2.21:9113"], labels: { host: "deb" } }, { targets: ["127.0.0.1:9113"], labels: { host: "mon" } }]);
    expect(job("postfix")!.static_configs).toEqual([{ targets: ["192.0.2.21:9154"], labels: { host: "deb" } }]);
    expect(job("zfs")!.static_configs).toEqual([{ targets: ["127.0.0.1:9134"], labels: { host: "mon" } }]);
    const deb = hostNamed(render, "deb");
    expect(deb.host.packages).toEqual(expect.arrayContaining(["prometheus-nginx-exporter", "prometheus-postfix-exporter"]));
    expect(fileOf(render, "deb", "/etc/default/prometheus-postfix-exporter")).toContain("ARGS='--web.listen-address=192.0.2.21:9154'");
    expect(fileOf(render, "deb", "/etc/default/prometheus-nginx-exporter")).toContain("--nginx.scrape-uri=http://127.0.0.1/nginx_status");
    expect(deb.host.units.find((u) => u.name === "prometheus-postfix-exporter.service")).toMatchObject({ source: "distribution", start: true, reads: ["/etc/default/prometheus-postfix-exporter"] });
    const nix = fileOf(render, "mon", "/etc/nixos/homefleet/operations.nix")!;
    expect(nix).toMatch(/zfs = \{\n\s+enable = true;\n\s+listenAddress = "127.0.0.1";\n\s+openFirewall = false;\n\s+port = 9134;/);
    expect(nix).toContain("nginx.statusPage = true;");
    const postfixOnNix = fileOf(renderOf(fleet((f) => (f.hosts.nix.exporters = ["postfix"]))), "nix", "/etc/nixos/homefleet/operations.nix")!;
    expect(postfixOnNix).toMatch(/postfix = \{\n\s+enable = true;\n\s+listenAddress = "127.0.0.1";\n\s+openFirewall = false;\n\s+port = 9154;\n\s+systemd.enable = true;/);
  });

  it("writes a Prometheus config promtool accepts with every rule file it names", () => {
    const rules = join(dir, "homefleet-rules.yml");
    const userRules = join(dir, "homefleet-user-rules.yml");
    writeFileSync(rules, fileOf(render, "mon", "/etc/nixos/homefleet/prometheus/homefleet-rules.yml")!);
    writeFileSync(userRules, fileOf(render, "mon", "/etc/nixos/homefleet/prometheus/homefleet-user-rules.yml")!);
    const file = join(dir, "prometheus.yml");
    writeFileSync(file, renderPrometheusConfig(prometheus, rules, userRules));
    const r = run("promtool", ["check", "config", file]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    expect(r.stdout).toContain("SUCCESS: 2 rule files found");
  });

  it("opens the firewall of another NixOS host to the Prometheus host for an exporter homefleet does not run", () => {
    const r = renderOf(fleet((f) => ((f.monitoring.prometheusHost = "deb"), (f.monitoring.scrapeTargets = { "node-red": { host: "nix", port: 1880 } }))));
    const nix = hostNamed(r, "nix");
    expect(nix.host.scrapedBy).toEqual({ address: "192.0.2.10", ports: [1880] });
    expect(fileOf(r, "nix", "/etc/nixos/homefleet/operations.nix")).toContain("iptables -I nixos-fw -p tcp -s 192.0.2.10 --dport 1880 -j nixos-fw-accept");
    // Debian Prometheus: prometheus.yml names the job at the host's address.
    expect(fileOf(r, "deb", "/etc/prometheus/prometheus.yml")).toContain("- 192.0.2.11:1880");
  });

  it("reports a container's metrics published on another host's loopback as unreachable, not scraped", () => {
    const r = renderOf(fleet((f) => (f.stacks.app.metrics = {})));
    expect(r.warnings.join("\n")).toContain("metrics of stack app are published on 127.0.0.1 of deb, which nix cannot reach");
    expect(r.model.hosts.find((h) => h.prometheus)!.prometheus!.scrapeConfigs.some((c) => c.job_name === "stack-metrics")).toBe(false);
    const review = reviewFleet({ config: parseFleetConfig(fleet((f) => (f.stacks.app.metrics = {}))), render: r });
    expect(review.findings.some((f) => f.check === "monitoring-unreachable" && f.message.includes("metrics of stack app"))).toBe(true);
  });
});

describe("the user's alert rules", () => {
  const userRules = fileOf(render, "mon", "/etc/nixos/homefleet/prometheus/homefleet-user-rules.yml")!;

  it("are rendered into their own file beside homefleet's, on both flavours, and loaded by Prometheus", () => {
    expect(userRules).toContain("alert: AppErrorRateHigh");
    expect(fileOf(render, "mon", "/etc/nixos/homefleet/operations.nix")).toContain("ruleFiles = [ ./prometheus/homefleet-rules.yml ./prometheus/homefleet-user-rules.yml ];");
    const r = renderOf(fleet((f) => ((f.monitoring.prometheusHost = "deb"), (f.monitoring.rules = { mine: [{ alert: "AppDown", expr: 'up{job="stack-metrics",stack="app"} == 0', for: "5m", labels: { severity: "warning" } }] }))));
    expect(fileOf(r, "deb", "/etc/prometheus/homefleet-user-rules.yml")).toContain("alert: AppDown");
    expect(fileOf(r, "deb", "/etc/prometheus/prometheus.yml")).toContain("rule_files:\n  - /etc/prometheus/homefleet-rules.yml\n  - /etc/prometheus/homefleet-user-rules.yml\n");
    // A change to the user's rules restarts Prometheus on Debian.
    expect(hostNamed(r, "deb").host.units.find((u) => u.name === "prometheus.service")!.reads).toContain("/etc/prometheus/homefleet-user-rules.yml");
  });

  it("pass promtool check rules with every lint fatal", () => {
    const file = join(dir, "user-rules.yml");
    writeFileSync(file, userRules);
    const r = run("promtool", ["check", "rules", "--lint=all", "--lint-fatal", file]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    expect(r.stdout).toContain("SUCCESS: 2 rules found");
  });

  it("are tested by promtool with the user's tests, which pass", () => {
    const result = runRuleTests(mon.prometheus!.userRuleGroups, config.monitoring!.ruleTests!);
    expect(result.available).toBe(true);
    expect(result.check).toEqual({ passed: true, output: expect.stringContaining("SUCCESS") });
    expect(result.tests.map((t) => [t.name, t.passed])).toEqual([
      ["app error rate", true],
      ["node-red down", true],
    ]);
  });

  it("report a test whose expectation the rules do not meet, with promtool's words", () => {
    const tests = structuredClone(config.monitoring!.ruleTests!);
    tests[1].alert_rule_test[0].exp_alerts[0].exp_labels.severity = "critical";
    const result = runRuleTests(mon.prometheus!.userRuleGroups, tests);
    expect(result.tests.map((t) => t.passed)).toEqual([true, false]);
    expect(result.tests[1].output).toContain("FAILED");
    expect(result.tests[1].output).toContain('severity="critical"');
  });

  it("report an expression promtool cannot parse", () => {
    const groups = [{ name: "bad", rules: [{ alert: "Broken", expr: "rate(up[5m]", labels: {}, annotations: {} }] }];
    const result = runRuleTests(groups, []);
    expect(result.check!.passed).toBe(false);
    expect(result.check!.output).toMatch(/parse error|unclosed/i);
  });

  it("can test homefleet's own alerts too: both rule files are loaded when a test asks about one of homefleet's alerts", () => {
    const result = runRuleTests(mon.prometheus!.userRuleGroups, [{ interval: "1m", input_series: [{ series: 'probe_success{job="blackbox-http",instance="http://x/health"}', values: "0x10" }], alert_rule_test: [{ eval_time: "5m", alertname: "HealthEndpointFailing", exp_alerts: [{ exp_labels: { severity: "critical", job: "blackbox-http", instance: "http://x/health" }, exp_annotations: { summary: "Health probe http://x/health is failing.", description: "The blackbox probe of http://x/health (job blackbox-http) has failed for 3 minutes." } }] }], promql_expr_test: [] }]);
    expect(result.tests.map((t) => t.passed)).toEqual([true]);
  });

  it("says when promtool is missing, and runs nothing", () => {
    expect(runRuleTests([], [], "/nonexistent/promtool")).toEqual({ available: false, tests: [] });
  });

  it("become review findings: a failing test is an error at its config path; promtool missing is info", () => {
    const failing = runRuleTests(mon.prometheus!.userRuleGroups, [{ ...config.monitoring!.ruleTests![1], alert_rule_test: [{ eval_time: "8m", alertname: "NodeRedDown", exp_alerts: [] }] }]);
    const review = reviewFleet({ config, render, ruleTests: failing });
    expect(review.blocking.map((f) => `${f.check} ${f.path}`)).toEqual(["rule-test homefleet:monitoring.ruleTests.0"]);
    const missing = reviewFleet({ config, render, ruleTests: { available: false, tests: [] } });
    expect(missing.findings.find((f) => f.check === "rule-test")).toMatchObject({ severity: "info", message: "promtool is not installed: the 2 rule tests did not run" });
  });

  it("homefleet test-rules runs them and exits 1 on a failure", async () => {
    const io = () => {
      let out = "";
      return { io: { out: { write: (s: string) => ((out += s), true) }, err: { write: () => true }, cwd: projectRoot() }, text: () => out };
    };
    const ok = io();
    expect(await main(["node", "homefleet", "test-rules", "--config", FIXTURE], ok.io as never)).toBe(0);
    expect(ok.text()).toBe("ok   promtool check rules (homefleet:monitoring.rules)\nok   homefleet:monitoring.ruleTests.0 (app error rate)\nok   homefleet:monitoring.ruleTests.1 (node-red down)\n2 rule tests, 0 failed\n");
    const raw = parseDoc();
    raw.config["homefleet:monitoring"].ruleTests[0].alert_rule_test[1].exp_alerts = [];
    const bad = join(dir, "Pulumi.bad.yaml");
    writeFileSync(bad, stringify(raw));
    const failed = io();
    expect(await main(["node", "homefleet", "test-rules", "--config", bad], failed.io as never)).toBe(1);
    expect(failed.text()).toContain("FAIL homefleet:monitoring.ruleTests.0 (app error rate)");
    expect(failed.text()).toContain("2 rule tests, 1 failed");
  });
});

function parseDoc(): Raw {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("yaml").parse(require("node:fs").readFileSync(FIXTURE, "utf8"));
}

describe("Grafana", () => {
  const grafana = mon.grafana!;
  const operations = fileOf(render, "mon", "/etc/nixos/homefleet/operations.nix")!;

  it("is nixpkgs' services.grafana with the Prometheus datasource and the dashboards provisioned", () => {
    expect(operations).toContain('url = "http://127.0.0.1:9090";');
    expect(operations).toContain('uid = "homefleet-prometheus";');
    expect(operations).toContain("options.path = ./grafana/dashboards;");
    expect(operations).toMatch(/http_addr = "127.0.0.1";\n\s+http_port = 3000;/);
    const r = nixParse(operations);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  });

  it("reads its admin password and secret key from credential files, never from the config", () => {
    expect(operations).toContain('admin_password = "\\$__file{/run/credentials/grafana.service/admin-password}";');
    expect(operations).toContain('secret_key = "\\$__file{/run/credentials/grafana.service/secret-key}";');
    expect(operations).toContain('"admin-password:/var/lib/homefleet/secrets/grafana/admin-password"');
    expect(mon.secretFiles.filter((f) => f.path.includes("/grafana/"))).toEqual([
      { path: "/var/lib/homefleet/secrets/grafana/admin-password", owner: "root", group: "root", mode: "0400", format: "raw", entries: [{ name: "admin-password", parts: [{ secret: "config/grafanaAdminPassword" }] }] },
      { path: "/var/lib/homefleet/secrets/grafana/secret-key", owner: "root", group: "root", mode: "0400", format: "raw", entries: [{ name: "secret-key", parts: [{ secret: "config/grafanaSecretKey" }] }] },
    ]);
    expect(mon.configSecrets).toEqual(expect.arrayContaining(["grafanaAdminPassword", "grafanaSecretKey"]));
    expect(mon.units.find((u) => u.name === "grafana.service")!.secretFiles).toEqual(grafana.credentials.map((c) => c.path));
  });

  it("listens where the review sees it, and opens the NixOS firewall only off loopback", () => {
    expect(allListeners(mon).find((l) => l.port === 3000)).toEqual({ address: "127.0.0.1", port: 3000, protocol: "tcp", owner: "grafana.service" });
    expect(operations).not.toContain("allowedTCPPorts");
    const lan = renderOf(fleet((f) => (f.monitoring.grafana = { listenAddress: "192.0.2.11", adminPasswordConfig: "gpw", secretKeyConfig: "gkey" })));
    expect(fileOf(lan, "nix", "/etc/nixos/homefleet/operations.nix")).toContain("allowedTCPPorts = [ 3000 ];");
  });

  describe("dashboards, one per stack", () => {
    const files = hostNamed(render, "mon").files.filter((f) => f.path.startsWith("/etc/nixos/homefleet/grafana/dashboards/"));
    const docs = files.map((f) => ({ path: f.path, doc: JSON.parse(f.content) as Raw }));

    it("exist for every stack of the fleet", () => {
      expect(files.map((f) => f.path)).toEqual(["/etc/nixos/homefleet/grafana/dashboards/hf-app.json", "/etc/nixos/homefleet/grafana/dashboards/hf-llm.json"]);
    });

    it("carry what Grafana's file provider needs: a uid of at most 40 characters, a title, a schema version, panels with ids, positions and targets on the provisioned datasource", () => {
      for (const { doc } of docs) {
        expect(typeof doc.uid).toBe("string");
        expect(doc.uid.length).toBeLessThanOrEqual(40);
        expect(doc.uid).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(doc.title).toMatch(/^homefleet: /);
        expect(doc.schemaVersion).toBeGreaterThanOrEqual(36);
        expect(doc.panels.length).toBeGreaterThanOrEqual(4);
        const ids = doc.panels.map((p: Raw) => p.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const p of doc.panels) {
          expect(["stat", "timeseries"]).toContain(p.type);
          expect(p.gridPos).toEqual({ h: expect.any(Number), w: expect.any(Number), x: expect.any(Number), y: expect.any(Number) });
          expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
          expect(p.datasource).toEqual({ type: "prometheus", uid: grafana.datasource.uid });
          expect(p.targets.length).toBeGreaterThanOrEqual(1);
          for (const t of p.targets) expect(t).toMatchObject({ refId: expect.stringMatching(/^[A-Z]$/), datasource: { type: "prometheus", uid: grafana.datasource.uid }, expr: expect.any(String) });
        }
      }
      expect(new Set(docs.map((d) => d.doc.uid)).size).toBe(docs.length);
    });

    const exprs = docs.flatMap((d) => d.doc.panels.flatMap((p: Raw) => p.targets.map((t: Raw) => t.expr as string)));

    it("query with expressions promtool parses", () => {
      const file = join(dir, "dashboard-queries.yml");
      writeFileSync(file, renderUserRules([{ name: "dashboards", rules: exprs.map((expr, i) => ({ alert: `Q${i}`, expr, labels: {}, annotations: {} })) }]));
      const r = run("promtool", ["check", "rules", file]);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    });

    it("use only metrics homefleet's exporters and scrape config produce", () => {
      // node_exporter 1.5 (systemd collector), blackbox_exporter 0.23, postgres_exporter 0.11,
      // redis_exporter 1.45, Prometheus' own `up`, LiteLLM's proxy metrics (its prometheus callback).
      const known = new Set([
        "node_systemd_unit_state",
        "node_systemd_service_restart_total",
        "probe_success",
        "probe_duration_seconds",
        "pg_up",
        "pg_stat_activity_count",
        "pg_stat_database_xact_commit",
        "pg_stat_database_xact_rollback",
        "pg_database_size_bytes",
        "redis_up",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_connected_clients",
        "redis_commands_processed_total",
        "up",
        "litellm_proxy_total_requests_metric_total",
        "litellm_proxy_failed_requests_metric_total",
      ]);
      const FUNCTIONS = new Set(["sum", "by", "rate", "increase"]);
      const used = new Set(exprs.flatMap((e) => [...e.replace(/\{[^}]*\}/g, "").replace(/\[[^\]]*\]/g, "").matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((w) => !FUNCTIONS.has(w) && !/^(state|datname)$/.test(w))));
      expect([...used].filter((m) => !known.has(m))).toEqual([]);
      // The exporters Debian packages (the same versions the alert rules are written for) name
      // them: a metric built from a namespace and a name ("pg" + "up") is looked up by its name part.
      const NEEDLE: Record<string, [string, string]> = {
        node_systemd_unit_state: ["prometheus-node-exporter", "unit_state"],
        node_systemd_service_restart_total: ["prometheus-node-exporter", "service_restart_total"],
        probe_success: ["prometheus-blackbox-exporter", "probe_success"],
        probe_duration_seconds: ["prometheus-blackbox-exporter", "probe_duration_seconds"],
        pg_stat_activity_count: ["prometheus-postgres-exporter", "pg_stat_activity"],
        pg_stat_database_xact_commit: ["prometheus-postgres-exporter", "xact_commit"],
        pg_stat_database_xact_rollback: ["prometheus-postgres-exporter", "xact_rollback"],
        pg_database_size_bytes: ["prometheus-postgres-exporter", "pg_database_size_bytes"],
        redis_memory_used_bytes: ["prometheus-redis-exporter", "memory_used_bytes"],
        redis_memory_max_bytes: ["prometheus-redis-exporter", "memory_max_bytes"],
        redis_connected_clients: ["prometheus-redis-exporter", "connected_clients"],
        redis_commands_processed_total: ["prometheus-redis-exporter", "commands_processed_total"],
      };
      for (const metric of used) {
        const needle = NEEDLE[metric];
        if (!needle) continue;
        const binary = readFileSync(`/usr/bin/${needle[0]}`);
        expect({ metric, found: binary.includes(needle[1]) }).toEqual({ metric, found: true });
      }
      expect(Object.keys(NEEDLE).filter((m) => used.has(m)).length).toBeGreaterThanOrEqual(12);
      // Each stack's queries select the stack (or its host and unit), never another stack's series.
      for (const { doc } of docs) {
        const stack = doc.uid.replace(/^hf-/, "");
        for (const p of doc.panels) for (const t of p.targets) expect(t.expr).toMatch(new RegExp(`stack="${stack}"|name="podman-${stack}\\.service"|datname=|pg_up`));
      }
    });
  });
});

describe("the review knows the new listeners and targets", () => {
  it("a scrape target on the port of a service of the host is that service's own endpoint, not a second listener (no port clash)", () => {
    const input = fleet((f) => {
      f.stacks.flows = { host: "nix", native: { service: "node-red" } };
      f.monitoring.scrapeTargets = { "node-red": { host: "nix", port: 1880 }, other: { host: "nix", port: 9999 } };
    });
    const config = parseFleetConfig(input);
    const fleetRender = renderFleet(config);
    const nix = hostNamed(fleetRender, "nix").host;
    const on1880 = allListeners(nix).filter((l) => l.port === 1880);
    expect(on1880.map((l) => l.owner)).toEqual(["node-red.service"]);
    // A port nothing of the host's holds is the target's own listener.
    expect(allListeners(nix).find((l) => l.port === 9999)?.owner).toBe("scrape target other");
    expect(reviewFleet({ config, render: fleetRender }).findings.filter((f) => f.check === "port-clash")).toEqual([]);
  });

  it("lists scrape targets homefleet does not run among the listeners and in the coverage", async () => {
    expect(allListeners(hostNamed(render, "deb").host).find((l) => l.port === 9553)).toEqual({ address: "192.0.2.21", port: 9553, protocol: "tcp", owner: "scrape target dns-query-log" });
    let out = "";
    const io = { out: { write: (s: string) => ((out += s), true) }, err: { write: () => true }, cwd: projectRoot() };
    expect(await main(["node", "homefleet", "review", "--config", FIXTURE, "--format", "json", "--no-exposure"], io as never)).toBe(0);
    const coverage = (JSON.parse(out) as { coverage: Raw[] }).coverage;
    expect(coverage).toEqual(
      expect.arrayContaining([
        { host: "deb", stack: "app", service: "podman-app", backup: "— (stateless)", exporter: "blackbox probe", alert: "HealthEndpointFailing, AppErrorRateHigh", certificate: "—" },
        { host: "deb", stack: "app", service: "metrics /metrics", backup: "—", exporter: "scraped at 192.0.2.21:9400 (job stack-metrics)", alert: "TargetDown", certificate: "—" },
        { host: "mon", stack: "—", service: "scrape target node-red", backup: "—", exporter: "http://127.0.0.1:1880/metrics", alert: "TargetDown, NodeRedDown", certificate: "—" },
        { host: "mon", stack: "—", service: "prometheus-zfs-exporter", backup: "—", exporter: "zfs exporter", alert: "TargetDown", certificate: "—" },
      ]),
    );
  });

  it("says that LiteLLM's metrics need its Enterprise license, until one is given", () => {
    const review = reviewFleet({ config, render });
    expect(review.findings.find((f) => f.check === "litellm-metrics")).toMatchObject({ severity: "info", path: "homefleet:stacks.llm.litellm.prometheusMetrics" });
    const licensed = fleet((f) => ((f.stacks.llm.litellm.prometheusMetrics = true), (f.stacks.llm.container.secretEnvironment = { LITELLM_LICENSE: "config:gpw" })));
    const parsed: FleetConfig = parseFleetConfig(licensed);
    expect(reviewFleet({ config: parsed, render: renderFleet(parsed) }).findings.some((f) => f.check === "litellm-metrics")).toBe(false);
  });
});

it("builds the same model twice (deterministic)", () => {
  const again = buildFleetModel(config);
  expect(JSON.stringify(again.hosts.map((h: HostModel) => [h.prometheus, h.grafana, h.scrapeTargets]))).toBe(JSON.stringify(render.model.hosts.map((h) => [h.prometheus, h.grafana, h.scrapeTargets])));
});
