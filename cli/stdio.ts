import { writeSync } from "node:fs";

/** What the CLI writes its output through: process.stdout and process.stderr, or a test's stand-in. */
export interface Output {
  write(text: string): boolean;
}

/**
 * Standard output or error as an Output, without creating process.stdout or process.stderr until
 * it must: node makes a pipe's stream (as when the CLI is run by another program) from its net
 * and stream modules, and loading them was about 4 ms of a render's start, for one line of output.
 * Writes go straight to the file descriptor. Where the reader has gone (EPIPE: `homefleet ... |
 * head -1`), this and every later write is dropped and the command goes on to its own end and
 * exit status: node's stream would throw the error at the top level, with a stack trace, and
 * stop a command halfway. Where the descriptor refuses otherwise (EAGAIN where someone made it
 * non-blocking), what is left, and everything after it, goes through node's stream, which waits
 * until it can write.
 */
export function lazyStdio(fd: 1 | 2): Output {
  let stream: Output | undefined;
  let readerGone = false;
  return {
    write(text: string): boolean {
      if (readerGone) return true;
      if (stream) return stream.write(text);
      const bytes = Buffer.from(text);
      let written = 0;
      try {
        while (written < bytes.length) written += writeSync(fd, bytes, written);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EPIPE") {
          readerGone = true;
          return true;
        }
        stream = fd === 1 ? process.stdout : process.stderr;
        return (stream as NodeJS.WritableStream).write(bytes.subarray(written));
      }
    },
  };
}
