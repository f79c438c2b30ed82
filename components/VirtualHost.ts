import * as pulumi from "@pulumi/pulumi";
import type { ProxySpec } from "../model/specs";

export interface VirtualHostArgs {
  readonly spec: ProxySpec["vhosts"][number];
  readonly listenAddress: string;
}

/** A virtual host of a host's reverse proxy: the names it answers to, its certificate, and where it forwards. */
export class VirtualHost extends pulumi.ComponentResource {
  public readonly domains: pulumi.Output<string[]>;
  public readonly certificate: pulumi.Output<string>;
  public readonly upstream: pulumi.Output<string>;
  /** `https://<first domain>/`. */
  public readonly url: pulumi.Output<string>;
  public readonly listen: pulumi.Output<string>;

  constructor(name: string, args: VirtualHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:proxy:VirtualHost", name, {}, opts);
    this.domains = pulumi.output([...args.spec.domains]);
    this.certificate = pulumi.output(args.spec.certificate);
    this.upstream = pulumi.output(args.spec.upstream);
    this.url = pulumi.output(`https://${args.spec.domains[0]}/`);
    this.listen = pulumi.output(`${args.listenAddress}:443`);
    this.registerOutputs({ domains: this.domains, certificate: this.certificate, upstream: this.upstream, url: this.url, listen: this.listen });
  }
}
