/**
 * A provider API key set with `pulumi config set --secret` reaches the container's env file and
 * nowhere else in plaintext.
 */
import { plaintextStrings, resolve, runProgram, stackFileConfig } from "./support/pulumiMocks";

const API_KEY = "sk-proj-CANARYPROVIDERKEY-do-not-leak";

it("carries a secret config value into the env file as a secret, and into no plaintext state", async () => {
  const config = stackFileConfig(`${__dirname}/../Pulumi.staging.yaml`);
  const stacks = JSON.parse(config["homefleet:stacks"]);
  stacks["litellm-box"].litellm.models.push({ name: "gpt-4o", model: "openai/gpt-4o", apiKeyConfig: "openaiApiKey" });
  config["homefleet:stacks"] = JSON.stringify(stacks);
  config["homefleet:openaiApiKey"] = API_KEY;

  const run = await runProgram(config, ["homefleet:openaiApiKey", "homefleet:sshPrivateKey"]);

  expect(run.error).toBeUndefined();
  const stack = run.resources.find((r) => r.type === "homefleet:stack:ServiceStack" && r.name === "litellm-box")!;
  const envelope = (stack.state as Record<string, { value: { path: string; content: string }[] }>).secretFiles;
  const env = envelope.value.find((f) => f.path.endsWith("container.env"))!;
  expect(env.content).toContain(`OPENAI_API_KEY=${API_KEY}\n`);
  const everywhere = run.resources.flatMap((r) => plaintextStrings(r.state).concat(plaintextStrings(r.inputs)));
  expect(everywhere.filter((s) => s.includes("CANARYPROVIDERKEY"))).toEqual([]);
  const hosts = await resolve((run.outputs!.hosts as Record<string, never>)["box-staging"]);
  expect(JSON.stringify(hosts.value)).not.toContain("CANARYPROVIDERKEY");
});
