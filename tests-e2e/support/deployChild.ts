/**
 * One deployment in a process of its own, for faults that need two deployers or a deployer that
 * is killed: reads a job (JSON) on stdin, deploys, prints the result or the error as one JSON line.
 * Secrets arrive on stdin with the job, never on the command line.
 */
import { deployHost } from "../../deploy/deployHost";
import { fleet, secretValues, secretsOf } from "./fleet";
import { target, type TestHost } from "./hosts";

export interface DeployJob {
  readonly host: TestHost;
  readonly holder: string;
  readonly maxMemory: string;
  readonly secretValues: Record<string, string>;
  readonly confirmAfterSec: number;
  readonly healthTimeoutSec: number;
  readonly healthSoakSec: number;
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const job = JSON.parse(Buffer.concat(chunks).toString("utf8")) as DeployJob;
  Object.assign(secretValues, job.secretValues);
  const bundle = fleet(job.host, (s) => (s.cache.maxMemory = job.maxMemory)).bundles[0];
  try {
    const result = await deployHost(target(job.host), bundle.files, bundle.manifest, secretsOf(bundle), { holder: job.holder, confirmAfterSec: job.confirmAfterSec, healthTimeoutSec: job.healthTimeoutSec, healthSoakSec: job.healthSoakSec, keepGenerations: 20 });
    process.stdout.write(JSON.stringify({ ok: true, generation: result.generation }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, error: (err as Error).message }) + "\n");
    process.exitCode = 1;
  }
}

void main();
