import * as pulumi from "@pulumi/pulumi";
import type { HostManifest } from "../bundle/hostBundle";
import type { SecretFileContent } from "../deploy/deployHost";
import * as impl from "../deploy/hostDeploymentProvider";

/**
 * A dynamic provider rather than @pulumi/command: Command resources have no Read, so a refresh
 * could never see a hand edit on the host. This one hashes the host's files on read.
 */
export const hostDeploymentProvider: pulumi.dynamic.ResourceProvider = {
  async check(olds, news) {
    const refused = impl.promotionRefusal(news, olds);
    // No property named: the engine would print the whole promotion input as a Go map before the reason.
    if (refused) return { inputs: news, failures: [{ property: "", reason: refused }] };
    return { inputs: impl.checkInputs(news) };
  },
  async diff(_id, olds, news) {
    const changed = impl.diffInputs(olds, news);
    return { changes: changed.length > 0 };
  },
  async create(inputs) {
    return impl.plainErrors(() => impl.createDeployment(inputs));
  },
  async read(id, props) {
    return impl.plainErrors(() => impl.readDeployment(id, props));
  },
  async update(_id, olds, news) {
    return impl.plainErrors(() => impl.updateDeployment(news, olds));
  },
  async delete(_id, props) {
    await impl.plainErrors(() => impl.deleteDeployment(props));
  },
};

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
export class HostDeployment extends pulumi.dynamic.Resource {
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
      hostDeploymentProvider,
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
