import * as pulumi from "@pulumi/pulumi";
import { composed } from "../model/secretFile";
import type { BackupJobSpec, HealthCheckSpec, StackModel } from "../model/specs";
import { BackupSchedule } from "./BackupSchedule";
import { Cache } from "./Cache";
import { ContainerService } from "./ContainerService";
import { NativeService } from "./NativeService";
import { Database } from "./Database";
import { Exporter, type ExporterArgs } from "./Exporter";

export interface ServiceStackArgs {
  /** The stack as the model resolved it from config (see model/build.ts). */
  readonly stack: StackModel;
  /** Secret Pulumi config values the stack refers to as `config:<key>`, by key. */
  readonly configSecrets: Readonly<Record<string, pulumi.Output<string>>>;
  /** The host's backup jobs that save this stack's data (Redis snapshots, volume archives). */
  readonly backups?: readonly BackupJobSpec[];
  /** Exporters that watch this stack alone (its Redis). */
  readonly exporters?: readonly ExporterArgs[];
}

export interface SecretFileOutput {
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly content: string;
}

/**
 * One service stack: a container service (generic, or the LiteLLM preset) or a native service of
 * the host's distribution, an optional database
 * on the host's PostgreSQL and an optional Redis cache, with their generated secrets, and the
 * backups and exporters that serve this stack alone.
 */
export class ServiceStack extends pulumi.ComponentResource {
  /** The stack's service: a container, or a native service of the host's distribution. */
  public readonly container?: ContainerService;
  public readonly native?: NativeService;
  public readonly database?: Database;
  public readonly cache?: Cache;
  /** Contents of the stack's root-only secret files, for the host deployment. A Pulumi secret. */
  public readonly secretFiles: pulumi.Output<SecretFileOutput[]>;
  public readonly healthChecks: pulumi.Output<HealthCheckSpec[]>;
  public readonly backups: readonly BackupSchedule[];
  public readonly exporters: readonly Exporter[];

  constructor(name: string, args: ServiceStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:stack:ServiceStack", name, {}, opts);
    const stack = args.stack;
    const generated = new Map(stack.generatedSecrets.map((g) => [g.id, g]));
    const secretValues: Record<string, pulumi.Output<string>> = {};

    if (stack.database) {
      this.database = new Database(`${name}-database`, { spec: stack.database, password: generated.get(stack.database.passwordSecret)!, host: stack.host }, { parent: this });
      secretValues[stack.database.passwordSecret] = this.database.password;
    }
    if (stack.cache) {
      this.cache = new Cache(`${name}-cache`, { spec: stack.cache, password: generated.get(stack.cache.passwordSecret)! }, { parent: this });
      secretValues[stack.cache.passwordSecret] = this.cache.password;
    }
    const masterKeyId = `${stack.name}/litellm-master-key`;
    if (stack.native) {
      this.native = new NativeService(`${name}-native`, { spec: stack.native }, { parent: this });
    } else {
      if (!stack.container) throw new pulumi.ResourceError(`stack ${stack.name} has neither a container nor a native service`, this);
      this.container = new ContainerService(
        `${name}-container`,
        { spec: stack.container, network: stack.network, kind: stack.kind, masterKey: generated.get(masterKeyId) },
        { parent: this },
      );
      if (this.container.masterKey) secretValues[masterKeyId] = this.container.masterKey;
    }
    for (const key of stack.configSecrets) {
      const value = args.configSecrets[key];
      if (!value) throw new pulumi.ResourceError(`stack ${stack.name} needs the secret config value homefleet:${key}`, this);
      secretValues[`config/${key}`] = pulumi.secret(value);
    }

    this.secretFiles = pulumi.secret(
      pulumi.all(secretValues).apply((values) =>
        stack.secretFiles.map((spec) => ({
          path: spec.path,
          mode: spec.mode,
          owner: spec.owner,
          group: spec.group,
          ...composed(spec, (id) => values[id]),
        })),
      ),
    );
    this.healthChecks = pulumi.output(stack.healthChecks.map((h) => ({ ...h })));
    this.backups = (args.backups ?? []).map((b) => new BackupSchedule(`${name}-${b.kind}-backup`, { spec: b }, { parent: this }));
    this.exporters = (args.exporters ?? []).map((e) => new Exporter(`${name}-${e.spec.kind}-exporter`, e, { parent: this }));
    this.registerOutputs({ secretFiles: this.secretFiles, healthChecks: this.healthChecks, warnings: [...stack.warnings] });
  }
}
