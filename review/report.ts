/**
 * The review as the seeds wrote it by hand: inventory, dependency graph, timer schedule,
 * coverage, exposure and findings by priority. Markdown for people (Mermaid diagrams), JSON for
 * tools (stable keys and order).
 */
import type { FleetRender } from "../bundle/hostBundle";
import { serviceName, units } from "../model/paths";
import type { BackupJobSpec } from "../model/specs";
import { NOMINAL_RUN_MINUTES } from "../model/schedule";
import { allListeners, timerWindows } from "./checks";
import type { Finding } from "./findings";
import type { Review } from "./index";

export interface ReviewReportInput {
  readonly title: string;
  readonly render: FleetRender;
  readonly review: Review;
  readonly exposure?: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

interface CoverageRow {
  readonly host: string;
  readonly stack: string;
  readonly service: string;
  readonly backup: string;
  readonly exporter: string;
  readonly alert: string;
  readonly certificate: string;
}

/** `*-*-* 02:30:00` → `02:30`. */
const timeOfDay = (onCalendar: string) => onCalendar.match(/(\d\d:\d\d)(:\d\d)?$/)?.[1] ?? onCalendar;

function coverage(input: ReviewReportInput): CoverageRow[] {
  const rows: CoverageRow[] = [];
  const monitored = input.render.model.hosts.some((h) => h.prometheus);
  const userRules = input.render.model.hosts.flatMap((h) => h.prometheus?.userRuleGroups.flatMap((g) => g.rules) ?? []);
  // The user's alerts about a stack (labels.stack) or a scrape job (job="<name>" in the expression).
  const userAlerts = (match: { stack?: string; job?: string }) =>
    userRules.filter((r) => (match.stack !== undefined && r.labels.stack === match.stack) || (match.job !== undefined && r.expr.includes(`job="${match.job}"`))).map((r) => r.alert);
  const withUser = (base: string, extra: readonly string[]) => (extra.length ? [...(base === "none" ? [] : [base]), ...new Set(extra)].join(", ") : base);
  for (const host of input.render.model.hosts) {
    const backup = (kind: BackupJobSpec["kind"], stack?: string) => host.operations.backups.find((b) => b.kind === kind && (stack === undefined || b.stack === stack));
    for (const s of host.stacks) {
      const volumeArchive = backup("volumes", s.name);
      if (s.native) {
        const n = s.native;
        rows.push({ host: host.name, stack: s.name, service: serviceName(n.unit), backup: volumeArchive ? `data archive ${timeOfDay(volumeArchive.onCalendar)}` : "— (no data directories)", exporter: n.health ? "blackbox probe" : "unit state (node exporter)", alert: monitored ? (n.health ? "HealthEndpointFailing, HomefleetUnitFailed" : "HomefleetUnitFailed") : "none", certificate: "—" });
      } else {
      const stateless = s.container!.volumes.some((v) => !v.readOnly) ? "— (ephemeral volumes)" : "— (stateless)";
      // Volumes carried by a restic repository of the host (volumes[].repository).
      const carriers = [...new Set(s.container!.volumes.flatMap((v) => (v.repository && !v.ephemeral ? [v.repository] : [])))]
        .map((name) => host.operations.backups.find((b) => b.kind === "repository" && b.repository === name))
        .flatMap((b) => (b ? [`restic repository ${b.repository} ${timeOfDay(b.onCalendar)}`] : []));
      const saved = [...(volumeArchive ? [`volumes archive ${timeOfDay(volumeArchive.onCalendar)}`] : []), ...carriers];
      rows.push({ host: host.name, stack: s.name, service: serviceName(units.container(s.name)), backup: saved.length ? saved.join(", ") : stateless, exporter: "blackbox probe", alert: withUser(monitored ? "HealthEndpointFailing, LiteLLMHighLatency".replace(s.kind === "litellm" ? "" : ", LiteLLMHighLatency", "") : "none", userAlerts({ stack: s.name })), certificate: "—" });
      const scraped = host.scrapeTargets?.find((t) => t.stack === s.name);
      if (s.metrics) rows.push({ host: host.name, stack: s.name, service: `metrics ${s.metrics.path}`, backup: "—", exporter: scraped ? `scraped at ${scraped.address} (job ${scraped.job})` : "not reachable from Prometheus", alert: scraped ? "TargetDown" : "none", certificate: "—" });
      }
      if (s.database) rows.push({ host: host.name, stack: s.name, service: `database ${s.database.name}`, backup: backup("postgresql")?.saves.includes(s.database.name) ? `pg_dump ${timeOfDay(backup("postgresql")!.onCalendar)}` : "none", exporter: "postgres_exporter", alert: monitored ? "PostgreSQLDown, BackupStale" : "none", certificate: "—" });
      if (s.cache) rows.push({ host: host.name, stack: s.name, service: serviceName(units.cache(s.name)), backup: backup("redis", s.name) ? `SAVE + copy ${timeOfDay(backup("redis", s.name)!.onCalendar)}` : "none", exporter: "redis_exporter", alert: monitored ? "RedisDown, RedisMemoryHigh, BackupStale" : "none", certificate: "—" });
    }
    for (const e of host.operations.exporters.filter((x) => !["node", "postgres", "redis", "blackbox"].includes(x.kind))) {
      rows.push({ host: host.name, stack: "—", service: serviceName(units.exporter(e.kind)), backup: "—", exporter: `${e.kind} exporter`, alert: withUser(monitored ? "TargetDown" : "none", userAlerts({ job: e.kind })), certificate: "—" });
    }
    for (const t of (host.scrapeTargets ?? []).filter((x) => !x.stack)) {
      rows.push({ host: host.name, stack: "—", service: `scrape target ${t.job}`, backup: "—", exporter: `${t.scheme}://${t.address}${t.path}`, alert: withUser("TargetDown", userAlerts({ job: t.job })), certificate: "—" });
    }
    // A certificate belongs to the host (no stack names it), so it gets a row of its own.
    for (const c of host.operations.certificates) {
      const renewal = timeOfDay(c.renewal.onCalendar);
      rows.push({ host: host.name, stack: "—", service: c.renewal.job, backup: "—", exporter: "expiry metric (node textfile)", alert: monitored ? "CertificateExpiringSoon, CertificateExpiringCritical, CertificateRenewalFailed" : "none", certificate: `${c.name} (${c.issuer}, renewed ${renewal})` });
    }
  }
  return rows;
}

/** Mermaid node id: letters, digits and underscores only. */
const nodeId = (unit: string) => "u_" + unit.replace(/[^A-Za-z0-9]/g, "_");

function dependencyGraph(render: FleetRender, hostName: string): string {
  const bundle = render.bundles.find((b) => b.host.name === hostName)!;
  const units = bundle.host.units.filter((u) => u.name.endsWith(".service"));
  const known = new Set(units.map((u) => u.name));
  const lines = ["flowchart LR"];
  const nodes = new Set<string>();
  const node = (name: string) => {
    if (!nodes.has(name)) lines.push(`  ${nodeId(name)}["${name.replace(/"/g, "'")}"]`);
    nodes.add(name);
  };
  for (const u of units) {
    node(u.name);
    for (const dep of u.requires) {
      node(dep);
      lines.push(`  ${nodeId(u.name)} --> ${nodeId(dep)}`);
    }
    for (const dep of u.after) {
      if (u.requires.includes(dep) || !known.has(dep)) continue;
      node(dep);
      lines.push(`  ${nodeId(u.name)} -.-> ${nodeId(dep)}`);
    }
  }
  return lines.join("\n");
}

function timerGantt(render: FleetRender, hostName: string): string {
  const host = render.model.hosts.find((h) => h.name === hostName)!;
  const lines = ["gantt", `  title ${hostName}: timers (start, randomized delay and ${NOMINAL_RUN_MINUTES} min assumed run time)`, "  dateFormat HH:mm", "  axisFormat %H:%M", `  section ${hostName}`];
  for (const w of timerWindows(host).filter((x) => x.start !== undefined)) {
    const start = `${String(Math.floor(w.start! / 60)).padStart(2, "0")}:${String(w.start! % 60).padStart(2, "0")}`;
    lines.push(`  ${w.timer}${w.weekday ? ` (${w.weekday})` : ""} :${start}, ${w.end! - w.start!}m`);
  }
  return lines.join("\n");
}

function table(headers: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, "\\|").replace(/\n/g, " ");
  return [`| ${headers.join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
}

function counts(findings: readonly Finding[]) {
  return {
    error: findings.filter((f) => f.severity === "error" && !f.acceptedBecause).length,
    warning: findings.filter((f) => f.severity === "warning" && !f.acceptedBecause).length,
    info: findings.filter((f) => f.severity === "info" && !f.acceptedBecause).length,
    accepted: findings.filter((f) => f.acceptedBecause).length,
  };
}

export function reviewJson(input: ReviewReportInput): string {
  const hosts = input.render.model.hosts.map((h) => ({
    name: h.name,
    os: h.os,
    arch: h.arch,
    address: h.address,
    stacks: h.stacks.map((s) => ({ name: s.name, kind: s.kind, ...(s.native ? { native: s.native.service, image: null } : { image: s.container!.image }), database: s.database?.name ?? null, cache: s.cache ? s.cache.port : null })),
    units: h.units.map((u) => u.name),
    timers: timerWindows(h).map((w) => ({ name: w.timer, onCalendar: w.spec.onCalendar, persistent: w.spec.persistent, randomizedDelaySec: w.spec.randomizedDelaySec, startMinute: w.start ?? null, endMinute: w.end ?? null })),
    listeners: allListeners(h)
      .map((l) => ({ address: l.address, port: l.port, protocol: l.protocol, owner: l.owner }))
      .sort((a, b) => a.port - b.port || a.address.localeCompare(b.address)),
    exposure: input.exposure?.get(h.name) ? Object.fromEntries([...input.exposure.get(h.name)!].sort((a, b) => a[0].localeCompare(b[0]))) : null,
  }));
  return (
    JSON.stringify(
      {
        generator: "homefleet",
        version: 1,
        title: input.title,
        summary: counts(input.review.findings),
        hosts,
        coverage: coverage(input),
        findings: input.review.findings.map((f) => ({ severity: f.severity, check: f.check, host: f.host ?? null, path: f.path, message: f.message, why: f.why, fix: f.fix, acceptedBecause: f.acceptedBecause ?? null })),
        unusedAccepts: input.review.unusedAccepts,
      },
      null,
      2,
    ) + "\n"
  );
}

export function reviewMarkdown(input: ReviewReportInput): string {
  const { render, review } = input;
  const c = counts(review.findings);
  const out: string[] = [`# homefleet review: ${input.title}`, ""];
  out.push(`**${c.error} errors, ${c.warning} warnings, ${c.info} info**${c.accepted ? `, ${c.accepted} accepted` : ""}. ${c.error ? "Errors stop `pulumi preview`." : "Nothing blocks a deployment."}`, "");

  out.push("## Findings by priority", "");
  if (!review.findings.length) out.push("No findings.", "");
  for (const severity of ["error", "warning", "info"] as const) {
    const list = review.findings.filter((f) => f.severity === severity);
    if (!list.length) continue;
    out.push(`### ${severity === "error" ? "Errors" : severity === "warning" ? "Warnings" : "Info"}`, "");
    for (const f of list) {
      out.push(`- **${f.check}** \`${f.path}\`: ${f.message}${f.acceptedBecause ? ` *Accepted: ${f.acceptedBecause}*` : ""}`, `  - Why: ${f.why}`, `  - Fix: ${f.fix}`);
    }
    out.push("");
  }
  if (review.unusedAccepts.length) out.push("Accepted findings that no longer occur (remove them from `homefleet:review.accept`): " + review.unusedAccepts.map((a) => `\`${a.check} ${a.path}\``).join(", "), "");

  out.push("## Inventory", "");
  out.push(
    table(
      ["host", "os", "arch", "address", "stacks", "units", "timers"],
      render.model.hosts.map((h) => [h.name, h.os, h.arch, h.address, h.stacks.map((s) => `${s.name} (${s.native ? `native: ${s.native.service}` : s.kind})`).join(", ") || "—", String(h.units.length), String(h.operations.timers.length)]),
    ),
    "",
  );
  out.push("### Ports", "");
  out.push(table(["host", "address", "port", "listener"], render.model.hosts.flatMap((h) => allListeners(h).sort((a, b) => a.port - b.port).map((l) => [h.name, l.address, String(l.port), l.owner]))), "");

  for (const h of render.model.hosts) {
    out.push(`## ${h.name}: dependencies`, "", "Solid arrows: Requires=; dotted: ordered After= only.", "", "```mermaid", dependencyGraph(render, h.name), "```", "");
    out.push(`## ${h.name}: timer schedule`, "", "```mermaid", timerGantt(render, h.name), "```", "");
  }

  out.push("## Coverage", "");
  out.push(table(["host", "stack", "service", "backup", "exporter / probe", "alerts", "certificates"], coverage(input).map((r) => [r.host, r.stack, r.service, r.backup, r.exporter, r.alert, r.certificate])), "");

  out.push("## Exposure (systemd-analyze security)", "");
  const nixosHosts = render.model.hosts.filter((h) => h.os === "nixos").map((h) => h.name);
  if (nixosHosts.length) out.push(`Not measured for NixOS hosts (${nixosHosts.join(", ")}): nixpkgs builds their units from the modules homefleet writes, so there are no unit files to score before the host builds them.`, "");
  if (!input.exposure) out.push("Not measured: `systemd-analyze` is not available here, or `--no-exposure` was given. `docs/hardening.md` lists the scores measured in CI.", "");
  else if (input.exposure.size) {
    out.push(table(["host", "unit", "exposure"], [...input.exposure].flatMap(([host, scores]) => [...scores].sort((a, b) => a[0].localeCompare(b[0])).map(([u, s]) => [host, u, s.toFixed(1)]))), "");
  }
  return out.join("\n");
}
