import * as pulumi from "@pulumi/pulumi";
import type { CertificateSpec } from "../model/specs";

export interface CertificateArgs {
  readonly spec: CertificateSpec;
}

/**
 * A certificate a host renews and checks: its names, issuer, where the files are, when the
 * renewal runs and which unit it reloads, and the daily expiry check that alerts before it lapses.
 */
export class Certificate extends pulumi.ComponentResource {
  public readonly domains: pulumi.Output<string[]>;
  public readonly issuer: pulumi.Output<string>;
  public readonly certFile: pulumi.Output<string>;
  /** The renewal job and its timer's calendar expression. */
  public readonly renewal: pulumi.Output<{ job: string; schedule: string }>;
  public readonly reloadUnit: pulumi.Output<string | undefined>;
  /** The expiry check: its job and calendar (its metric feeds the CertificateExpiringSoon alert). */
  public readonly expiryCheck: pulumi.Output<{ job: string; schedule: string }>;

  constructor(name: string, args: CertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:cert:Certificate", name, {}, opts);
    const c = args.spec;
    this.domains = pulumi.output([...c.domains]);
    this.issuer = pulumi.output(c.issuer);
    this.certFile = pulumi.output(c.certFile);
    this.renewal = pulumi.output({ job: c.renewal.job, schedule: c.renewal.onCalendar });
    this.reloadUnit = pulumi.output(c.reloadUnit);
    this.expiryCheck = pulumi.output({ job: c.check.job, schedule: c.check.onCalendar });
    this.registerOutputs({ domains: this.domains, issuer: this.issuer, certFile: this.certFile, renewal: this.renewal, reloadUnit: this.reloadUnit, expiryCheck: this.expiryCheck });
  }
}
