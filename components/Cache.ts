import * as pulumi from "@pulumi/pulumi";
import type { CacheSpec, GeneratedSecretSpec } from "../model/specs";
import { GeneratedSecret } from "./GeneratedSecret";

export interface CacheArgs {
  readonly spec: CacheSpec;
  readonly password: GeneratedSecretSpec;
}

/** A Redis instance of one stack: RDB plus AOF, password required, bound to loopback and the stack's bridge. */
export class Cache extends pulumi.ComponentResource {
  public readonly port: pulumi.Output<number>;
  public readonly bind: pulumi.Output<string[]>;
  /** A Pulumi secret. */
  public readonly password: pulumi.Output<string>;

  constructor(name: string, args: CacheArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:redis:Cache", name, {}, opts);
    const password = new GeneratedSecret(`${name}-password`, args.password, { parent: this });
    this.port = pulumi.output(args.spec.port);
    this.bind = pulumi.output([...args.spec.bind]);
    this.password = pulumi.secret(password.result);
    this.registerOutputs({ port: this.port, bind: this.bind, password: this.password });
  }
}
