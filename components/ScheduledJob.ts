import * as pulumi from "@pulumi/pulumi";
import type { ServiceUnitSpec, TimerSpec } from "../model/specs";

export interface ScheduledJobArgs {
  readonly service: ServiceUnitSpec;
  readonly timer: TimerSpec;
}

/** A scheduled job of a host (homefleet:hosts.<host>.jobs.<name>): what runs, as whom, when, and what it may write. */
export class ScheduledJob extends pulumi.ComponentResource {
  /** The service its timer starts. */
  public readonly unit: pulumi.Output<string>;
  public readonly description: pulumi.Output<string>;
  /** The timer's calendar expression (systemd.time). */
  public readonly schedule: pulumi.Output<string>;
  public readonly persistent: pulumi.Output<boolean>;
  public readonly user: pulumi.Output<string>;
  /** The only paths it may write (everything else is read-only to it). */
  public readonly writes: pulumi.Output<string[]>;

  constructor(name: string, args: ScheduledJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:job:ScheduledJob", name, {}, opts);
    this.unit = pulumi.output(`${args.service.name}.service`);
    this.description = pulumi.output(args.service.description);
    this.schedule = pulumi.output(args.timer.onCalendar);
    this.persistent = pulumi.output(args.timer.persistent);
    this.user = pulumi.output(args.service.user ?? "root");
    this.writes = pulumi.output([...(args.service.readWritePaths ?? [])]);
    this.registerOutputs({ unit: this.unit, description: this.description, schedule: this.schedule, persistent: this.persistent, user: this.user, writes: this.writes });
  }
}
