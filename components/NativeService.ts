import * as pulumi from "@pulumi/pulumi";
import type { NativeServiceSpec } from "../model/specs";

export interface NativeServiceArgs {
  /** The native service as the model resolved it (model/build.ts, model/nativeCatalogue.ts). */
  readonly spec: NativeServiceSpec;
}

/**
 * A service of the host's distribution that a stack runs instead of a container: a nixpkgs
 * module on NixOS, a Debian package on a plain systemd host. homefleet does not write its unit;
 * it orders it after the stack's database and cache, mounts its data first, checks its health and
 * archives its data directories.
 */
export class NativeService extends pulumi.ComponentResource {
  /** The unit the health gate watches, e.g. `grafana.service`. */
  public readonly unit: pulumi.Output<string>;
  /** The port it listens on, if it serves one. */
  public readonly port: pulumi.Output<number | undefined>;
  /** NixOS: the module's option path (`services.grafana`); Debian: the package (`package:samba`). */
  public readonly module: pulumi.Output<string>;

  constructor(name: string, args: NativeServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:native:NativeService", name, {}, opts);
    const spec = args.spec;
    if (!spec.module && !spec.package) throw new pulumi.ResourceError(`native service ${spec.service} has neither a NixOS module nor a Debian package`, this);
    this.unit = pulumi.output(spec.unit);
    this.port = pulumi.output(spec.listen?.port);
    this.module = pulumi.output(spec.module ? spec.module.join(".") : `package:${spec.package}`);
    this.registerOutputs({ unit: this.unit, port: this.port, module: this.module, dataDirs: [...spec.dataDirs] });
  }
}
