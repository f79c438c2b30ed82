import type { ChildProcess } from "node:child_process";

/**
 * Kills the child processes a test file started (SIGKILL) and waits until each is reaped, so
 * that none outlives the file in jest's worker: a child still exiting keeps the worker alive,
 * and jest then forces it out.
 */
export async function killAndReap(children: Iterable<ChildProcess | undefined>): Promise<void> {
  const running = [...children].filter((c): c is ChildProcess => c !== undefined && c.exitCode === null && c.signalCode === null);
  const exited = running.map((c) => new Promise((r) => c.once("exit", r)));
  for (const c of running) c.kill("SIGKILL");
  await Promise.all(exited);
}
