import * as pulumi from "@pulumi/pulumi";
import * as impl from "../deploy/hostPackagesProvider";

export const hostPackagesProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return { inputs: impl.checkPackages(news) };
  },
  async diff(_id, olds, news) {
    return { changes: impl.packagesChanged(olds, news) };
  },
  async create(inputs) {
    return { id: inputs.host, outs: await impl.installPackages(inputs) };
  },
  async read(id, props) {
    return { id, props: await impl.readPackages(props) };
  },
  async update(_id, olds, news) {
    return { outs: await impl.installPackages(news, olds.hostKey) };
  },
  // Removing homefleet leaves the packages: other software on the host may use them, and their
  // data (PostgreSQL clusters, Redis dumps) must survive.
  async delete() {},
};

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
