/**
 * docs/benchmarks.md holds one section per benchmark, each between marker comments, so that
 * rerunning one benchmark replaces its own section and keeps the others.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** The benchmarks that write a section of their own. */
const ORDER = ["render", "deploy", "preview", "up"] as const;
export type SectionId = (typeof ORDER)[number];

function markers(id: SectionId): { begin: string; end: string } {
  return { begin: `<!-- bench:${id}:begin (written by the benchmark; rerun it instead of editing) -->`, end: `<!-- bench:${id}:end -->` };
}

/**
 * Writes `body` as section `id` of `file`, in place: the other sections and any text written by
 * hand around them stay as they are; a section the file lacks is added at the end.
 */
export function writeSection(file: string, id: SectionId, body: string): void {
  const text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const { begin, end } = markers(id);
  const block = `${begin}\n${body.trimEnd()}\n${end}`;
  const b = text.indexOf(begin);
  const e = b >= 0 ? text.indexOf(end, b) : -1;
  writeFileSync(file, e > b ? text.slice(0, b) + block + text.slice(e + end.length) : `${text.trimEnd()}\n\n${block}\n`);
}
