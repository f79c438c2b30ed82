/**
 * Grafana's admin password and secret key (secret config values) become root-only credential
 * files held only as Pulumi secrets, and appear nowhere in plaintext: not in rendered files, the
 * resource tree's inputs or state. The tree shows what the fleet's Prometheus scrapes beyond
 * homefleet's exporters and the user's alert rule groups, as components under their host.
 */
import { plaintextStrings, runProgram, SECRET_SIG, stackFileConfig } from "./support/pulumiMocks";

const ADMIN_PASSWORD = "CANARYGRAFANAADMIN-correct-horse";
const SECRET_KEY = "CANARYGRAFANAKEY-battery-staple";

it("holds Grafana's secrets only as Pulumi secrets and registers scrape targets and rule groups under their hosts", async () => {
  const config = stackFileConfig(`${__dirname}/fixtures/monitoring.yaml`);
  config["homefleet:grafanaAdminPassword"] = ADMIN_PASSWORD;
  config["homefleet:grafanaSecretKey"] = SECRET_KEY;

  const run = await runProgram(config, ["homefleet:grafanaAdminPassword", "homefleet:grafanaSecretKey", "homefleet:sshPrivateKey"]);

  expect(run.error).toBeUndefined();
  const host = run.resources.find((r) => r.type === "homefleet:host:FleetHost" && r.name === "mon")!;
  const files = (host.state as Record<string, { [SECRET_SIG]: string; value: { path: string; content: string; mode: string }[] }>).secretFiles;
  expect(files[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
  expect(files.value.find((f) => f.path === "/var/lib/homefleet/secrets/grafana/admin-password")).toMatchObject({ content: ADMIN_PASSWORD, mode: "0400" });
  expect(files.value.find((f) => f.path === "/var/lib/homefleet/secrets/grafana/secret-key")).toMatchObject({ content: SECRET_KEY, mode: "0400" });
  const plaintext = run.resources.flatMap((r) => plaintextStrings(r.state).concat(plaintextStrings(r.inputs))).join("\n");
  expect(plaintext).not.toContain("CANARYGRAFANA");
  // The rendered files are among the deployment's inputs: they name the credential files, never the values.
  expect(plaintext).toContain("$__file{/run/credentials/grafana.service/admin-password}");

  const of = (type: string) => run.resources.filter((r) => r.type === type);
  const targets = of("homefleet:monitoring:ScrapeTarget");
  expect(targets.map((t) => t.name).sort()).toEqual(["deb-app-metrics", "deb-dns-query-log-scrape", "mon-llm-metrics", "mon-node-red-scrape"]);
  for (const t of targets) expect(t.parentType).toBe("homefleet:host:FleetHost");
  expect(targets.find((t) => t.name === "mon-llm-metrics")!.state).toMatchObject({ job: "stack-metrics", url: "http://127.0.0.1:4000/metrics/", stack: "llm", scrapedBy: "mon" });
  expect(targets.find((t) => t.name === "deb-dns-query-log-scrape")!.state).toMatchObject({ job: "dns-query-log", url: "http://192.0.2.21:9553/metrics", scrapedBy: "mon" });
  const groups = of("homefleet:monitoring:AlertRuleGroup");
  expect(groups.map((g) => [g.name, g.parentType, (g.state as { alerts: string[] }).alerts])).toEqual([
    ["mon-app-rules", "homefleet:host:FleetHost", ["AppErrorRateHigh"]],
    ["mon-custom-exporters-rules", "homefleet:host:FleetHost", ["NodeRedDown"]],
  ]);
  const exporters = of("homefleet:monitoring:Exporter").map((e) => e.name);
  expect(exporters).toEqual(expect.arrayContaining(["mon-zfs-exporter", "mon-nginx-exporter", "deb-postfix-exporter", "deb-nginx-exporter"]));
});
