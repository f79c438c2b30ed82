/**
 * Inputs of a host deployment as the program hands them to the provider, before its check: the
 * prod stack's forge host, with one secret file. For tests of the provider's pure parts; nothing
 * connects to the address.
 */
import { buildHostBundle } from "../../bundle/hostBundle";
import { loadStackFile } from "../../config/load";
import type { checkInputs } from "../../deploy/hostDeploymentProvider";
import { buildFleetModel } from "../../model/build";

export type UncheckedDeploymentInputs = Parameters<typeof checkInputs>[0];

export const forgeBundle = buildHostBundle(buildFleetModel(loadStackFile(`${__dirname}/../../Pulumi.prod.yaml`)).hosts.find((h) => h.name === "forge")!);

export function forgeDeploymentInputs(overrides: Partial<UncheckedDeploymentInputs> = {}): UncheckedDeploymentInputs {
  return {
    host: "forge",
    connection: { address: "10.231.250.9", port: 22, user: "root" },
    privateKey: "unused: nothing here connects",
    files: Object.fromEntries(forgeBundle.files.map((f) => [f.path, f.content])),
    manifest: forgeBundle.manifest,
    secrets: [{ path: "/var/lib/homefleet/secrets/x/password", mode: "0400", owner: "root", group: "root", content: "s3cret" }],
    options: { confirmAfterSec: 300, healthTimeoutSec: 300, keepGenerations: 5 },
    after: [],
    promotion: { from: "", refused: false, message: "not gated" },
    ...overrides,
  };
}
