import * as pulumi from "@pulumi/pulumi";
import type { HostManifest } from "../bundle/hostBundle";
import type { SecretFileContent } from "../deploy/deployHost";
import { hostDeploymentProvider } from "../deploy/hostDeploymentProvider";
import { DynamicResource } from "./DynamicResource";
import { prebuiltProvider } from "./prebuiltProvider";

/** The provider (deploy/hostDeploymentProvider.ts), as the build serialized it when that is fresh. */
const provider = prebuiltProvider("hostDeploymentProvider", hostDeploymentProvider);

export interface HostDeploymentArgs {
  readonly host: string;
  readonly connection: pulumi.Input<{ address: string; port: number; user: string; hostKey?: string }>;
  readonly privateKey: pulumi.Input<string>;
  readonly files: pulumi.Input<Record<string, string>>;
  readonly manifest: pulumi.Input<HostManifest>;
  readonly secrets: pulumi.Input<SecretFileContent[]>;
  readonly options: pulumi.Input<{ confirmAfterSec: number; healthTimeoutSec: number; healthSoakSec: number; keepGenerations: number }>;
  /** Hosts of earlier rollout waves and their verdicts: all must be healthy before this one deploys. */
  readonly after: pulumi.Input<{ host: string; wave: number; verdict: string }[]>;
  /** The promotion gate's verdict: a refused promotion fails this resource's check. */
  readonly promotion: pulumi.Input<{ from: string; refused: boolean; message: string }>;
  /** The resource's own URN, for the progress the provider reports to the engine. */
  readonly progressUrn?: pulumi.Input<string>;
}

/** The type token of the resource below (how the SDK names a dynamic resource's type). */
export const HOST_DEPLOYMENT_TYPE = "pulumi-nodejs:dynamic/homefleet:HostDeployment";

/**
 * One host's deployment: after create or update the host runs the new generation and passed its
 * health gate, or is back on the old one and the operation failed naming the check.
 */
export class HostDeployment extends DynamicResource {
  declare public readonly generation: pulumi.Output<number | null>;
  declare public readonly manifestSha256: pulumi.Output<string | null>;
  declare public readonly unitStates: pulumi.Output<Record<string, string>>;
  declare public readonly health: pulumi.Output<{ verdict: string; checkedAt: string; checks: { check: string; ok: boolean }[] }>;
  declare public readonly fileHashes: pulumi.Output<Record<string, string>>;
  declare public readonly lastDeploy: pulumi.Output<unknown>;
  /** The host key seen at first contact: a different one later is refused unless config names it. */
  declare public readonly hostKey: pulumi.Output<string>;

  // `declare`, not `!`: an ES2022 class field would reset to undefined the outputs super() set.
  constructor(name: string, args: HostDeploymentArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        ...args,
        privateKey: pulumi.secret(args.privateKey),
        secrets: pulumi.secret(args.secrets),
        generation: undefined,
        manifestSha256: undefined,
        unitStates: undefined,
        health: undefined,
        fileHashes: undefined,
        secretsInSync: undefined,
        lastDeploy: undefined,
        hostKey: undefined,
      },
      // Secret inputs stay secret in the outputs as well, whatever the engine infers.
      { ...opts, additionalSecretOutputs: ["privateKey", "secrets"] },
      "homefleet",
      "HostDeployment",
    );
  }
}
