/**
 * `container.secretEnvironment` from a config secret (`config:<key>`), end to end through the
 * program, on a Debian and a NixOS host (tests/fixtures/containers.yaml): the value reaches the
 * container's root-only env file as a Pulumi secret, and no plaintext input or output, rendered
 * unit file or Nix module (which would land in the world-readable Nix store). The host side (file
 * mode, process list, journal) is proven on a real host by tests-e2e/containers.e2e.test.ts.
 */
import { plaintextStrings, resolve, runProgram, SECRET_SIG, stackFileConfig } from "./support/pulumiMocks";

const TOKEN = "CANARYaidbTokenFromConfigX9";

it("carries a config secret into each stack's env file as a secret, and into nothing in plaintext", async () => {
  const config = stackFileConfig(`${__dirname}/fixtures/containers.yaml`);
  config["homefleet:aidbToken"] = TOKEN;
  const run = await runProgram(config, ["homefleet:aidbToken", "homefleet:sshPrivateKey"]);
  expect(run.error).toBeUndefined();

  for (const name of ["aidb", "search"]) {
    const stack = run.resources.find((r) => r.type === "homefleet:stack:ServiceStack" && r.name === name)!;
    const envelope = (stack.state as Record<string, { [SECRET_SIG]: string; value: { path: string; mode: string; content: string }[] }>).secretFiles;
    expect(envelope[SECRET_SIG]).toBeDefined();
    const env = envelope.value.find((f) => f.path === `/var/lib/homefleet/secrets/${name}/container.env`)!;
    expect(env.content).toBe(`AIDB_API_TOKEN=${TOKEN}\n`);
  }

  // The mode and owner the deployment writes the env file with, on both hosts.
  for (const [hostName, stack] of [["debian", "aidb"], ["nixos", "search"]]) {
    const deployment = run.resources.find((r) => r.type === "pulumi-nodejs:dynamic/homefleet:HostDeployment" && (r.inputs as { host?: string }).host === hostName)!;
    const manifest = (deployment.inputs as { manifest: { secretFiles: { path: string; mode: string; owner: string; group: string }[] } }).manifest;
    expect(manifest.secretFiles.find((f) => f.path === `/var/lib/homefleet/secrets/${stack}/container.env`)).toMatchObject({ mode: "0400", owner: "root", group: "root" });
  }

  const plaintext = run.resources.flatMap((r) => plaintextStrings(r.state).concat(plaintextStrings(r.inputs)));
  // The rendered files (unit files, Nix modules) are among the deployments' plaintext inputs.
  expect(plaintext.some((s) => s.includes("virtualisation.oci-containers"))).toBe(true);
  expect(plaintext.some((s) => s.includes("/usr/bin/podman run --name=aidb"))).toBe(true);
  expect(plaintext.filter((s) => s.includes(TOKEN))).toEqual([]);
  const hosts = (await resolve(run.outputs!.hosts as never)).value;
  expect(JSON.stringify(hosts)).not.toContain(TOKEN);
});
