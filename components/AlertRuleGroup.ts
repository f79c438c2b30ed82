import * as pulumi from "@pulumi/pulumi";
import type { UserRuleGroupSpec } from "../model/specs";

export interface AlertRuleGroupArgs {
  readonly spec: UserRuleGroupSpec;
}

/** A group of the user's own alert rules (homefleet:monitoring.rules.<group>), evaluated by the fleet's Prometheus. */
export class AlertRuleGroup extends pulumi.ComponentResource {
  public readonly group: pulumi.Output<string>;
  /** The alert names, in the group's order. */
  public readonly alerts: pulumi.Output<string[]>;

  constructor(name: string, args: AlertRuleGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:monitoring:AlertRuleGroup", name, {}, opts);
    this.group = pulumi.output(args.spec.name);
    this.alerts = pulumi.output(args.spec.rules.map((r) => r.alert));
    this.registerOutputs({ group: this.group, alerts: this.alerts });
  }
}
