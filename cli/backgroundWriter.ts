import type * as WorkerThreads from "node:worker_threads";

/**
 * Writes a render into a new directory on a helper thread while the main thread renders the next
 * host. Creating 2 900 directories and 4 800 files for 200 hosts is mostly the kernel's work (as
 * long as `cp -r` of the same tree), which the main thread would otherwise wait for after
 * rendering everything; here it runs beside the rendering, on another CPU where there is one.
 *
 * A text is sent to the helper once for the files that hold it (hosts share their scripts), which
 * name it by number. The helper makes each directory (parents first, as queued) and creates each
 * file, refusing to overwrite anything (`wx`): the directory was new or empty when the render began.
 * The first failure stops the writing, and `finish` throws it with the path it names.
 */
export interface BackgroundWriter {
  /**
   * Queues directories (each once, parents first) and files under them: absolute paths. A file's
   * `hostPath` (its path on its host) is where its text is looked for among those sent before:
   * hosts' files at one path often hold the same text.
   */
  write(dirs: readonly string[], files: readonly { readonly path: string; readonly hostPath: string; readonly content: string; readonly mode: number }[]): void;
  /** Waits until everything queued is on disk; throws the first failure. */
  finish(): void;
}

/** What the helper says in the shared flag: it is running, and it has written everything queued. */
const STARTED = 1;
const FINISHED = 2;
/** How long finish waits for a helper that has not even started before it gives up. */
const START_TIMEOUT_MS = 15_000;

/** The helper's code: plain Node, no homefleet module (the helper loads nothing else). */
const HELPER = `
const STARTED = ${STARTED}, FINISHED = ${FINISHED};
const { workerData } = require("node:worker_threads");
const { chmodSync, mkdirSync, writeFileSync } = require("node:fs");
const { port, done, chmodMask } = workerData;
const flag = new Int32Array(done);
Atomics.store(flag, 0, STARTED);
Atomics.notify(flag, 0);
const texts = [];
let failure;
port.on("message", (batch) => {
  if (batch === null) {
    port.postMessage(failure ?? null);
    port.close();
    Atomics.store(flag, 0, FINISHED);
    Atomics.notify(flag, 0);
    return;
  }
  if (failure) return;
  try {
    for (const text of batch.texts) texts.push(text);
    for (const dir of batch.dirs) mkdirSync(dir);
    for (let i = 0; i < batch.paths.length; i++) {
      const mode = batch.modes[i];
      writeFileSync(batch.paths[i], texts[batch.textIds[i]], { mode, flag: "wx" });
      // open(2) applies the umask: set the bits it took away, and any beyond 0777.
      if ((mode & chmodMask) !== 0 || mode > 0o777) chmodSync(batch.paths[i], mode);
    }
  } catch (err) {
    failure = { message: err && err.message ? err.message : String(err) };
  }
});
`;

/**
 * Whether a helper thread can be started here: not while node builds a startup snapshot
 * (bin/cliSnapshot.js), where node:worker_threads must not even be loaded. A Worker made after
 * starting from a snapshot that had loaded it never runs (Node.js 20), so the module is loaded
 * when a writer is first started, never at the top of the bundle.
 */
export function canWriteInBackground(): boolean {
  return !(require("node:v8") as typeof import("node:v8")).startupSnapshot.isBuildingSnapshot();
}

export function startBackgroundWriter(): BackgroundWriter {
  const { MessageChannel, receiveMessageOnPort, Worker } = require("node:worker_threads") as typeof WorkerThreads;
  const done = new SharedArrayBuffer(4);
  const channel = new MessageChannel();
  const worker = new Worker(HELPER, { eval: true, workerData: { port: channel.port2, done, chmodMask: process.umask() }, transferList: [channel.port2] });
  // Never what keeps the process alive: finish waits for it, and a failed render exits anyway.
  worker.unref();
  // The text last sent for each host path, and its number. Looked up by path, not by the text:
  // a map keyed by the texts hashes every one of them (5 MB for 200 hosts) to find most of them new.
  const sent = new Map<string, { readonly content: string; readonly id: number }>();
  let sentCount = 0;
  return {
    write(dirs, files) {
      const texts: string[] = [];
      const ids: number[] = [];
      for (const file of files) {
        const last = sent.get(file.hostPath);
        // The same string compares as one pointer, a text of another length at once.
        if (last !== undefined && last.content === file.content) {
          ids.push(last.id);
          continue;
        }
        const id = sentCount++;
        sent.set(file.hostPath, { content: file.content, id });
        texts.push(file.content);
        ids.push(id);
      }
      channel.port1.postMessage({ texts, dirs, paths: files.map((f) => f.path), textIds: ids, modes: files.map((f) => f.mode) });
    },
    finish() {
      channel.port1.postMessage(null);
      const flag = new Int32Array(done);
      // A helper that never starts (it has never happened but for a node:worker_threads loaded
      // into the startup snapshot) would otherwise be waited for forever.
      if (Atomics.wait(flag, 0, 0, START_TIMEOUT_MS) === "timed-out") {
        void worker.terminate();
        throw new Error(`the helper thread that writes the render did not start within ${START_TIMEOUT_MS / 1000} s; nothing was written`);
      }
      while (Atomics.load(flag, 0) !== FINISHED) Atomics.wait(flag, 0, STARTED);
      const failure = receiveMessageOnPort(channel.port1)?.message as { message: string } | null | undefined;
      channel.port1.close();
      void worker.terminate();
      if (failure) throw new Error(failure.message);
    },
  };
}
