/**
 * `pulumi up --target` that skips creating a generated secret: the secret has no value. The
 * program must still run (before, composing the secret files threw and the whole update failed
 * with an unhandled error); the secret file is marked missing, and a host deployment that would
 * write it refuses, naming the file, the secret and the fix.
 */
import { requireSecretValues } from "../deploy/hostDeploymentProvider";
import { runProgram, stackFileConfig } from "./support/pulumiMocks";

it("runs with a skipped generated secret, marks the file that needs it, and the deployment refuses it", async () => {
  const config = stackFileConfig(`${__dirname}/../Pulumi.staging.yaml`);
  const probe = await runProgram(config, ["homefleet:sshPrivateKey"], { skippedSecrets: ["litellm-box-database-password"] });
  expect(probe.error).toBeUndefined();
  const deployment = probe.resources.find((r) => r.type === "pulumi-nodejs:dynamic/homefleet:HostDeployment" && r.name === "box-staging-deployment")!;
  // A Pulumi secret on the wire: the signature key and the value.
  const secrets = (deployment.inputs.secrets as { value: { path: string; content: string; missing?: string[] }[] }).value;
  const incomplete = secrets.filter((s) => s.missing?.length);
  expect(incomplete.map((s) => [s.path, s.missing, s.content])).toEqual(incomplete.map((s) => [s.path, ["litellm-box/database-password"], ""]));
  expect(incomplete.length).toBeGreaterThan(0);
  expect(() => requireSecretValues({ host: "box-staging", secrets: secrets as never })).toThrow(
    /^host box-staging: not deployed: \/var\/lib\/homefleet\/secrets\/litellm-box\/\S+ needs litellm-box\/database-password.*, which do not exist yet \(a targeted up skipped the resources that generate them\): run pulumi up without --target, or target those stacks too$/,
  );
});
