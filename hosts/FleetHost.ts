import * as pulumi from "@pulumi/pulumi";
import type { HostBundle, ManifestFile } from "../bundle/hostBundle";
import type { DeployConfig } from "../config/schema";
import { childUrn } from "../deploy/engineProgress";
import { HOST_DEPLOYMENT_TYPE, HostDeployment } from "./HostDeployment";
import { HostPackages } from "./HostPackages";
import type { SecretFileOutput } from "../components/ServiceStack";
import { composed } from "../model/secretFile";

export interface FleetHostArgs {
  /** Every file homefleet renders for the host, and its manifest. */
  readonly bundle: HostBundle;
  /** Secret Pulumi config values the host's own secret files need (restic password), by key. */
  readonly configSecrets: Readonly<Record<string, pulumi.Output<string>>>;
}

export interface FleetHostDeployArgs {
  readonly settings: DeployConfig;
  /** The SSH key homefleet logs in with (a Pulumi secret). */
  readonly privateKey: pulumi.Output<string>;
  /** The secret files of the host's stacks (Pulumi secrets). */
  readonly stackSecretFiles: readonly pulumi.Output<SecretFileOutput[]>[];
  /** Verdicts of the hosts in earlier rollout waves: this host deploys only after them. */
  readonly after: pulumi.Output<{ host: string; wave: number; verdict: string }[]>;
  /** The promotion gate's verdict (undefined without homefleet:promoteFrom). */
  readonly promotion?: pulumi.Output<{ from: string; refused: boolean; message: string }>;
}

/**
 * One host of the fleet and what it would run: its rendered files and their manifest. The
 * stacks on the host are its children. Pushing the bundle, activation, health gate and drift
 * detection attach here as the host-deployment resource.
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
  /** Set by `finish` when deployments are enabled. */
  public deployment?: HostDeployment;
  private readonly bundle: HostBundle;

  constructor(name: string, args: FleetHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:host:FleetHost", name, {}, opts);
    this.bundle = args.bundle;
    const { host, manifest } = args.bundle;
    this.os = pulumi.output(host.os);
    this.arch = pulumi.output(host.arch);
    this.address = pulumi.output(host.address);
    this.manifestSha256 = pulumi.output(manifest.sha256);
    this.files = pulumi.output(manifest.files.map((f) => ({ ...f })));
    this.secretFilePaths = pulumi.output(manifest.secretFiles.map((s) => s.path));
    this.units = pulumi.output([...manifest.units]);
    const values: Record<string, pulumi.Output<string>> = {};
    for (const key of host.configSecrets) {
      const value = args.configSecrets[key];
      if (!value) throw new pulumi.ResourceError(`host ${host.name} needs the secret config value homefleet:${key}`, this);
      values[`config/${key}`] = pulumi.secret(value);
    }
    this.secretFiles = pulumi.secret(
      pulumi.all(values).apply((v) =>
        host.secretFiles.map((spec) => ({ path: spec.path, mode: spec.mode, owner: spec.owner, group: spec.group, ...composed(spec, (id) => v[id]) })),
      ),
    );
  }

  /**
   * Called once the host's stacks are registered as its children: attaches the deployment (and,
   * on plain systemd hosts, the package install it needs) and registers the outputs.
   */
  public finish(deploy?: FleetHostDeployArgs): void {
    if (deploy) this.deployment = this.attachDeployment(deploy);
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

  private attachDeployment(deploy: FleetHostDeployArgs): HostDeployment {
    const { host, manifest, files } = this.bundle;
    const name = host.name;
    const connection = { address: host.address, port: host.sshPort, user: host.sshUser, ...(host.hostKey ? { hostKey: host.hostKey } : {}) };
    let packages: HostPackages | undefined;
    if (host.os === "systemd" && deploy.settings.installPackages && manifest.packages.length) {
      packages = new HostPackages(
        `${name}-packages`,
        { host: name, connection, privateKey: deploy.privateKey, packages: manifest.packages },
        { parent: this },
      );
    }
    const secrets = pulumi.secret(pulumi.all([this.secretFiles, ...deploy.stackSecretFiles]).apply((groups) => groups.flat()));
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
