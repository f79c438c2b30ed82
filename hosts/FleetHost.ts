import * as pulumi from "@pulumi/pulumi";
import type { HostBundle, ManifestFile } from "../bundle/hostBundle";
import type { DeployConfig } from "../config/schema";
import { childUrn } from "../deploy/engineProgress";
import { HOST_DEPLOYMENT_TYPE, HostDeployment } from "./HostDeployment";
import { HostPackages } from "./HostPackages";
import { BackupSchedule } from "../components/BackupSchedule";
import { Certificate } from "../components/Certificate";
import { Exporter, type ExporterArgs } from "../components/Exporter";
import { ScheduledJob } from "../components/ScheduledJob";
import { ScrapeTarget } from "../components/ScrapeTarget";
import { AlertRuleGroup } from "../components/AlertRuleGroup";
import { ServiceStack, type SecretFileOutput } from "../components/ServiceStack";
import { VirtualHost } from "../components/VirtualHost";
import { scrapeable } from "../model/monitoring";
import { units } from "../model/paths";
import { composed } from "../model/secretFile";
import type { HealthCheckSpec } from "../model/specs";

export interface FleetHostArgs {
  /** Every file homefleet renders for the host, and its manifest. */
  readonly bundle: HostBundle;
  /** A secret Pulumi config value by key (homefleet:<key>): the host's and its stacks' secret files need them. */
  readonly secret: (key: string) => pulumi.Output<string>;
  /** The host that runs Prometheus, if any: its exporters say whether it scrapes them. */
  readonly prometheusHost?: string;
  /** Set when deployments are enabled. */
  readonly deploy?: FleetHostDeployArgs;
}

export interface FleetHostDeployArgs {
  readonly settings: DeployConfig;
  /** The SSH key homefleet logs in with (a Pulumi secret). */
  readonly privateKey: pulumi.Output<string>;
  /** Verdicts of the hosts in earlier rollout waves: this host deploys only after them. */
  readonly after: pulumi.Output<{ host: string; wave: number; verdict: string }[]>;
  /** The promotion gate's verdict (undefined without homefleet:promoteFrom). */
  readonly promotion?: pulumi.Output<{ from: string; refused: boolean; message: string }>;
}

/**
 * One host of the fleet and what it runs: its stacks, backups, certificates, exporters, scheduled
 * jobs and virtual hosts as children, its rendered files and their manifest, and (when
 * deployments are enabled) the host-deployment resource that pushes them, activates,
 * health-gates and detects drift.
 */
export class FleetHost extends pulumi.ComponentResource {
  public readonly os: pulumi.Output<string>;
  public readonly arch: pulumi.Output<string>;
  public readonly address: pulumi.Output<string>;
  /** Changes whenever any file, unit, package or health check of the host changes. */
  public readonly manifestSha256: pulumi.Output<string>;
  public readonly files: pulumi.Output<ManifestFile[]>;
  /** Paths only: the contents are Pulumi secrets held by the stacks. */
  public readonly secretFilePaths: pulumi.Output<string[]>;
  public readonly units: pulumi.Output<string[]>;
  /** Host-level secret files (off-site backup credentials). A Pulumi secret. */
  public readonly secretFiles: pulumi.Output<SecretFileOutput[]>;
  public readonly stacks: readonly ServiceStack[];
  /** Host-wide backup jobs (database dumps, config archive, off-site copy); a stack's own are under the stack. */
  public readonly backups: readonly BackupSchedule[];
  public readonly certificates: readonly Certificate[];
  /** Host-wide exporters (node, PostgreSQL, blackbox); a stack's Redis exporter is under the stack. */
  public readonly exporters: readonly Exporter[];
  public readonly jobs: readonly ScheduledJob[];
  public readonly virtualHosts: readonly VirtualHost[];
  /** What the fleet's Prometheus scrapes here beyond homefleet's exporters. */
  public readonly scrapeTargets: readonly ScrapeTarget[];
  /** The user's alert rule groups, on the Prometheus host. */
  public readonly alertRuleGroups: readonly AlertRuleGroup[];
  /** Health checks the deployment gates on, by stack. */
  public readonly healthChecks: Readonly<Record<string, pulumi.Output<HealthCheckSpec[]>>>;
  public readonly deployment?: HostDeployment;

  constructor(name: string, args: FleetHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:host:FleetHost", name, {}, opts);
    const { host, manifest, files } = args.bundle;
    this.os = pulumi.output(host.os);
    this.arch = pulumi.output(host.arch);
    this.address = pulumi.output(host.address);
    this.manifestSha256 = pulumi.output(manifest.sha256);
    this.files = pulumi.output(manifest.files.map((f) => ({ ...f })));
    this.secretFilePaths = pulumi.output(manifest.secretFiles.map((s) => s.path));
    this.units = pulumi.output([...manifest.units]);
    const values: Record<string, pulumi.Output<string>> = {};
    for (const key of host.configSecrets) values[`config/${key}`] = pulumi.secret(args.secret(key));
    this.secretFiles = pulumi.secret(
      pulumi.all(values).apply((v) =>
        host.secretFiles.map((spec) => ({ path: spec.path, mode: spec.mode, owner: spec.owner, group: spec.group, ...composed(spec, (id) => v[id]) })),
      ),
    );

    const ops = host.operations;
    const exporter = (e: (typeof ops.exporters)[number]): ExporterArgs => ({
      spec: e,
      unit: e.kind === "redis" ? units.redisExporter(e.stack as string) : units.exporter(e.kind),
      ...(args.prometheusHost && scrapeable(args.prometheusHost, host.name, e) ? { scrapedBy: args.prometheusHost } : {}),
    });
    this.stacks = host.stacks.map(
      (stack) =>
        new ServiceStack(
          stack.name,
          {
            stack,
            configSecrets: Object.fromEntries(stack.configSecrets.map((key) => [key, args.secret(key)])),
            backups: ops.backups.filter((b) => b.stack === stack.name),
            exporters: ops.exporters.filter((e) => e.stack === stack.name).map(exporter),
          },
          { parent: this },
        ),
    );
    this.healthChecks = Object.fromEntries(this.stacks.map((s, i) => [host.stacks[i].name, s.healthChecks]));
    // A host has several repositories: each is named after its own (the other kinds are one per host).
    this.backups = ops.backups.filter((b) => !b.stack).map((b) => new BackupSchedule(b.kind === "repository" ? `${name}-repository-${b.repository}-backup` : `${name}-${b.kind}-backup`, { spec: b }, { parent: this }));
    this.certificates = ops.certificates.map((c) => new Certificate(`${name}-${c.name}-certificate`, { spec: c }, { parent: this }));
    this.exporters = ops.exporters.filter((e) => !e.stack).map((e) => new Exporter(`${name}-${e.kind}-exporter`, exporter(e), { parent: this }));
    this.jobs = ops.jobs.map((j) => new ScheduledJob(`${name}-${j.name}-job`, { service: j.service, timer: j.timer }, { parent: this }));
    this.scrapeTargets = (host.scrapeTargets ?? []).map((t) => new ScrapeTarget(t.stack ? `${name}-${t.stack}-metrics` : `${name}-${t.job}-scrape`, { spec: t, scrapedBy: args.prometheusHost as string }, { parent: this }));
    this.alertRuleGroups = (host.prometheus?.userRuleGroups ?? []).map((g) => new AlertRuleGroup(`${name}-${g.name}-rules`, { spec: g }, { parent: this }));
    const proxy = host.proxy;
    this.virtualHosts = proxy ? proxy.vhosts.map((v) => new VirtualHost(`${name}-${v.name}-vhost`, { spec: v, listenAddress: proxy.listenAddress }, { parent: this })) : [];

    if (args.deploy) {
      const stackSecretFiles = this.stacks.map((s) => s.secretFiles);
      this.deployment = this.attachDeployment(name, args.bundle, args.deploy, stackSecretFiles, files);
    }
    this.registerOutputs({
      os: this.os,
      arch: this.arch,
      address: this.address,
      manifestSha256: this.manifestSha256,
      files: this.files,
      secretFilePaths: this.secretFilePaths,
      units: this.units,
      secretFiles: this.secretFiles,
      generation: this.deployment?.generation,
      health: this.deployment?.health,
      unitStates: this.deployment?.unitStates,
    });
  }

  private attachDeployment(name: string, bundle: HostBundle, deploy: FleetHostDeployArgs, stackSecretFiles: pulumi.Output<SecretFileOutput[]>[], files: HostBundle["files"]): HostDeployment {
    const { host, manifest } = bundle;
    const connection = { address: host.address, port: host.sshPort, user: host.sshUser, ...(host.hostKey ? { hostKey: host.hostKey } : {}) };
    let packages: HostPackages | undefined;
    if (host.os === "systemd" && deploy.settings.installPackages && manifest.packages.length) {
      packages = new HostPackages(`${name}-packages`, { host: name, connection, privateKey: deploy.privateKey, packages: manifest.packages }, { parent: this });
    }
    const secrets = pulumi.secret(pulumi.all([this.secretFiles, ...stackSecretFiles]).apply((groups) => groups.flat()));
    return new HostDeployment(
      `${name}-deployment`,
      {
        host: name,
        connection,
        privateKey: deploy.privateKey,
        files: Object.fromEntries(files.map((f) => [f.path, f.content])),
        manifest,
        secrets,
        options: { confirmAfterSec: deploy.settings.confirmAfterSec, healthTimeoutSec: deploy.settings.healthTimeoutSec, healthSoakSec: deploy.settings.healthSoakSec, keepGenerations: deploy.settings.keepGenerations },
        after: deploy.after,
        promotion: deploy.promotion ? deploy.promotion.apply((p) => ({ from: p.from, refused: p.refused, message: p.message })) : { from: "", refused: false, message: "not gated" },
        progressUrn: this.urn.apply((urn) => childUrn(urn, HOST_DEPLOYMENT_TYPE, `${name}-deployment`)),
      },
      { parent: this, dependsOn: packages ? [packages] : [] },
    );
  }
}
