/**
 * The host-packages resource's provider: installs the Debian packages a plain systemd host's
 * rendered units need, and on read reports what dpkg has, so a refresh sees a removed package.
 * Plain Node code over ssh2; hosts/HostPackages.ts hands `hostPackagesProvider` to the engine as a
 * dynamic provider, or the same code bundled (hosts/prebuiltProvider.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import { HostSession, sh, sshTargetOf, type HostConnectionInputs } from "./ssh";

export interface HostPackagesInputs extends HostConnectionInputs {
  /** Sorted, unique Debian package names. */
  readonly packages: readonly string[];
}

export interface HostPackagesOutputs extends HostPackagesInputs {
  /** Package → installed version, or "missing". */
  readonly installed: Readonly<Record<string, string>>;
  /** The key the host offered at first contact (trust on first use). */
  readonly hostKey?: string;
}

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

export function checkPackages(news: HostPackagesInputs): HostPackagesInputs {
  for (const p of news.packages) if (!PACKAGE_NAME.test(p)) throw new Error(`host ${news.host}: ${JSON.stringify(p)} is not a Debian package name`);
  return { ...news, packages: [...new Set(news.packages)].sort() };
}

/** A new package list, or a package that a refresh found missing, means an install. */
export function packagesChanged(olds: Partial<HostPackagesOutputs>, news: HostPackagesInputs): boolean {
  if (JSON.stringify(olds.packages ?? []) !== JSON.stringify(news.packages)) return true;
  // A new address or host key: the state must carry it for the next refresh.
  if (olds.connection !== undefined && JSON.stringify(olds.connection) !== JSON.stringify(news.connection)) return true;
  return Object.values(olds.installed ?? {}).some((v) => v === "missing");
}


/** dpkg's view: installed ("ii") packages with their versions; anything else is missing. */
async function installedVersions(session: HostSession, packages: readonly string[]): Promise<Record<string, string>> {
  // dpkg-query exits 1 when it knows none of a name: the output still lists the rest.
  const r = await session.exec(`dpkg-query -W -f='\${Package} \${db:Status-Abbrev} \${Version}\\n' -- ${packages.map(sh).join(" ")}`);
  const found = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const [name, status, version] = line.trim().split(/\s+/);
    if (name && status === "ii" && version) found.set(name.replace(/:.*$/, ""), version);
  }
  return Object.fromEntries(packages.map((p) => [p, found.get(p) ?? "missing"]));
}

/**
 * Installs only what dpkg lacks: a host with everything in place is not asked to reach a mirror.
 * The package lists are refreshed first only when something is missing.
 */
export async function installPackages(inputs: HostPackagesInputs, pinnedHostKey?: string): Promise<HostPackagesOutputs> {
  const session = await HostSession.connect(sshTargetOf(inputs, pinnedHostKey));
  try {
    const before = await installedVersions(session, inputs.packages);
    const missing = inputs.packages.filter((p) => before[p] === "missing");
    if (missing.length) {
      const prefix = inputs.connection.user === "root" ? "" : "sudo -n ";
      await session.run(
        `installing ${missing.join(", ")}`,
        `export DEBIAN_FRONTEND=noninteractive; ${prefix}apt-get update -q && ${prefix}apt-get install -y -q --no-install-recommends -- ${missing.map(sh).join(" ")}`,
        undefined,
        1800,
      );
    }
    const installed = await installedVersions(session, inputs.packages);
    const still = inputs.packages.filter((p) => installed[p] === "missing");
    if (still.length) throw new Error(`host ${inputs.host}: apt-get finished but dpkg still lacks ${still.join(", ")}`);
    return { ...inputs, installed, hostKey: session.hostKey };
  } finally {
    session.close();
  }
}

export async function readPackages(props: HostPackagesOutputs): Promise<HostPackagesOutputs> {
  const session = await HostSession.connect(sshTargetOf(props, props.hostKey));
  try {
    return { ...props, installed: await installedVersions(session, props.packages), hostKey: session.hostKey };
  } finally {
    session.close();
  }
}

export const hostPackagesProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return { inputs: checkPackages(news) };
  },
  async diff(_id, olds, news) {
    return { changes: packagesChanged(olds, news) };
  },
  async create(inputs) {
    return { id: inputs.host, outs: await installPackages(inputs) };
  },
  async read(id, props) {
    return { id, props: await readPackages(props) };
  },
  async update(_id, olds, news) {
    return { outs: await installPackages(news, olds.hostKey) };
  },
  // Removing homefleet leaves the packages: other software on the host may use them, and their
  // data (PostgreSQL clusters, Redis dumps) must survive.
  async delete() {},
};
