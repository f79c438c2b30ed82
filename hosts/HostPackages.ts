import * as pulumi from "@pulumi/pulumi";
import { hostPackagesProvider as inProcessProvider } from "../deploy/hostPackagesProvider";
import { bundledProvider } from "./bundledProvider";

/** The provider the engine runs (deploy/hostPackagesProvider.ts), from its prebuilt bundle when that is fresh. */
export const hostPackagesProvider: pulumi.dynamic.ResourceProvider = bundledProvider("hostPackagesProvider", inProcessProvider);

export interface HostPackagesArgs {
  readonly host: string;
  readonly connection: pulumi.Input<{ address: string; port: number; user: string; hostKey?: string }>;
  readonly privateKey: pulumi.Input<string>;
  readonly packages: pulumi.Input<readonly string[]>;
}

/**
 * The Debian packages a plain systemd host needs for its rendered units, installed with apt-get
 * when dpkg lacks them. Unlike a one-shot remote command it reads the host back, so a refresh
 * shows a package removed by hand and the next `up` installs it again.
 */
export class HostPackages extends pulumi.dynamic.Resource {
  declare public readonly installed: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: HostPackagesArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      hostPackagesProvider,
      name,
      { ...args, privateKey: pulumi.secret(args.privateKey), installed: undefined, hostKey: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "homefleet",
      "HostPackages",
    );
  }
}
