import * as pulumi from "@pulumi/pulumi";
import type { HostBundle, ManifestFile } from "../bundle/hostBundle";
import type { SecretFileOutput } from "../components/ServiceStack";
import { composeSecretFile } from "../model/secretFile";

export interface FleetHostArgs {
  /** Every file homefleet renders for the host, and its manifest. */
  readonly bundle: HostBundle;
  /** Secret Pulumi config values the host's own secret files need (restic password), by key. */
  readonly configSecrets: Readonly<Record<string, pulumi.Output<string>>>;
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

  constructor(name: string, args: FleetHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:host:FleetHost", name, {}, opts);
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
        host.secretFiles.map((spec) => ({ path: spec.path, mode: spec.mode, owner: spec.owner, group: spec.group, content: composeSecretFile(spec, (id) => v[id]) })),
      ),
    );
  }

  /** Called once the host's stacks are registered as its children. */
  public finish(): void {
    this.registerOutputs({
      os: this.os,
      arch: this.arch,
      address: this.address,
      manifestSha256: this.manifestSha256,
      files: this.files,
      secretFilePaths: this.secretFilePaths,
      units: this.units,
      secretFiles: this.secretFiles,
    });
  }
}
