import * as pulumi from "@pulumi/pulumi";
import type { ExporterSpec } from "../model/specs";

export interface ExporterArgs {
  readonly spec: ExporterSpec;
  /** The unit that runs it. */
  readonly unit: string;
  /** The host whose Prometheus scrapes it; undefined without monitoring, or when it cannot reach it. */
  readonly scrapedBy?: string;
}

/** A Prometheus exporter on a host: what it watches, where it listens, and who scrapes it. */
export class Exporter extends pulumi.ComponentResource {
  public readonly kind: pulumi.Output<string>;
  public readonly unit: pulumi.Output<string>;
  /** `address:port`, as Prometheus scrapes it. */
  public readonly scrapeTarget: pulumi.Output<string>;
  public readonly scrapedBy: pulumi.Output<string | undefined>;

  constructor(name: string, args: ExporterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:monitoring:Exporter", name, {}, opts);
    this.kind = pulumi.output(args.spec.kind);
    this.unit = pulumi.output(args.unit);
    this.scrapeTarget = pulumi.output(`${args.spec.address}:${args.spec.port}`);
    this.scrapedBy = pulumi.output(args.scrapedBy);
    this.registerOutputs({ kind: this.kind, unit: this.unit, scrapeTarget: this.scrapeTarget, scrapedBy: this.scrapedBy });
  }
}
