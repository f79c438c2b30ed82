import * as pulumi from "@pulumi/pulumi";
import type { ContainerSpec, GeneratedSecretSpec, NetworkSpec } from "../model/specs";
import { GeneratedSecret } from "./GeneratedSecret";

export interface ContainerServiceArgs {
  readonly spec: ContainerSpec;
  readonly network: NetworkSpec;
  /** `litellm` is a preset of the generic container service: it adds a generated master key. */
  readonly kind: "container" | "litellm";
  readonly masterKey?: GeneratedSecretSpec;
}

/**
 * A podman container on a dedicated network, published on loopback, limited, restarted on
 * failure and active only once its health check answers.
 */
export class ContainerService extends pulumi.ComponentResource {
  public readonly image: pulumi.Output<string>;
  public readonly healthUrl: pulumi.Output<string>;
  public readonly published: pulumi.Output<string>;
  /** A Pulumi secret; only for the LiteLLM preset. */
  public readonly masterKey?: pulumi.Output<string>;

  constructor(name: string, args: ContainerServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:container:ContainerService", name, {}, opts);
    if (args.kind === "litellm") {
      if (!args.masterKey) throw new pulumi.ResourceError("the LiteLLM preset needs a master key secret", this);
      const key = new GeneratedSecret(`${name}-master-key`, args.masterKey, { parent: this });
      this.masterKey = pulumi.secret(key.result);
    }
    this.image = pulumi.output(args.spec.image);
    this.healthUrl = pulumi.output(args.spec.health.url);
    this.published = pulumi.output(`${args.spec.publishAddress}:${args.spec.publishPort}`);
    this.registerOutputs({ image: this.image, healthUrl: this.healthUrl, published: this.published, network: args.network.name, masterKey: this.masterKey });
  }
}
