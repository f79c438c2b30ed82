import * as pulumi from "@pulumi/pulumi";
import type { ScrapeTargetSpec } from "../model/specs";

export interface ScrapeTargetArgs {
  readonly spec: ScrapeTargetSpec;
  /** The host whose Prometheus scrapes it. */
  readonly scrapedBy: string;
}

/**
 * A target the fleet's Prometheus scrapes beyond homefleet's exporters: a container's own metrics
 * endpoint (stacks.<s>.metrics, litellm.prometheusMetrics) or an exporter homefleet does not run
 * (monitoring.scrapeTargets.<job>).
 */
export class ScrapeTarget extends pulumi.ComponentResource {
  /** The scrape job, the `job` label of its series. */
  public readonly job: pulumi.Output<string>;
  /** `scheme://address:port/path`, as Prometheus requests it. */
  public readonly url: pulumi.Output<string>;
  public readonly stack: pulumi.Output<string | undefined>;
  public readonly scrapedBy: pulumi.Output<string>;

  constructor(name: string, args: ScrapeTargetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:monitoring:ScrapeTarget", name, {}, opts);
    this.job = pulumi.output(args.spec.job);
    this.url = pulumi.output(`${args.spec.scheme}://${args.spec.address}${args.spec.path}`);
    this.stack = pulumi.output(args.spec.stack);
    this.scrapedBy = pulumi.output(args.scrapedBy);
    this.registerOutputs({ job: this.job, url: this.url, stack: this.stack, scrapedBy: this.scrapedBy });
  }
}
