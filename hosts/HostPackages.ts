import * as pulumi from "@pulumi/pulumi";
import { hostPackagesProvider } from "../deploy/hostPackagesProvider";
import { DynamicResource } from "./DynamicResource";
import { prebuiltProvider } from "./prebuiltProvider";

/** The provider (deploy/hostPackagesProvider.ts), as the build serialized it when that is fresh. */
const provider = prebuiltProvider("hostPackagesProvider", hostPackagesProvider);

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
export class HostPackages extends DynamicResource {
  declare public readonly installed: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: HostPackagesArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { ...args, privateKey: pulumi.secret(args.privateKey), installed: undefined, hostKey: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "homefleet",
      "HostPackages",
    );
  }
}
