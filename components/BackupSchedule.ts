import * as pulumi from "@pulumi/pulumi";
import type { BackupJobSpec } from "../model/specs";

export interface BackupScheduleArgs {
  readonly spec: BackupJobSpec;
}

/**
 * One backup job of a host, as users think of it: what it saves, where to, when and for how
 * long. The job's service and timer are in the host's deployment; this makes them visible in
 * `pulumi preview` and in the state.
 */
export class BackupSchedule extends pulumi.ComponentResource {
  /** The service and timer that run it (unit names without suffix). */
  public readonly job: pulumi.Output<string>;
  public readonly kind: pulumi.Output<string>;
  public readonly saves: pulumi.Output<string[]>;
  public readonly destination: pulumi.Output<string>;
  public readonly retention: pulumi.Output<string>;
  /** The timer's calendar expression (systemd.time). */
  public readonly schedule: pulumi.Output<string>;
  /** The repository's integrity check: the off-site job's, or a repository's with a checkCalendar. */
  public readonly check: pulumi.Output<{ job: string; schedule: string } | undefined>;

  constructor(name: string, args: BackupScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:backup:BackupSchedule", name, {}, opts);
    const s = args.spec;
    this.job = pulumi.output(s.job);
    this.kind = pulumi.output(s.kind);
    this.saves = pulumi.output([...s.saves]);
    this.destination = pulumi.output(s.destination);
    this.retention = pulumi.output(s.retention);
    this.schedule = pulumi.output(s.onCalendar);
    this.check = pulumi.output(s.check ? { job: s.check.job, schedule: s.check.onCalendar } : undefined);
    this.registerOutputs({ job: this.job, kind: this.kind, saves: this.saves, destination: this.destination, retention: this.retention, schedule: this.schedule, check: this.check });
  }
}
