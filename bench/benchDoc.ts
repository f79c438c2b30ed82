/**
 * docs/benchmarks.md holds one section per benchmark, each between marker comments, so that
 * rerunning one benchmark replaces its own section and keeps the others.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Sections in the order they appear in the file. */
const ORDER = ["render", "deploy"] as const;
export type SectionId = (typeof ORDER)[number];

function markers(id: SectionId): { begin: string; end: string } {
  return { begin: `<!-- bench:${id}:begin (written by the benchmark; rerun it instead of editing) -->`, end: `<!-- bench:${id}:end -->` };
}

function existingBlock(text: string, id: SectionId): string | undefined {
  const { begin, end } = markers(id);
  const b = text.indexOf(begin);
  const e = b >= 0 ? text.indexOf(end, b) : -1;
  return e > b ? text.slice(b, e + end.length) + "\n" : undefined;
}

/** Writes `body` as section `id` of `file`; the other sections stay as they are. */
export function writeSection(file: string, id: SectionId, body: string): void {
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const blocks = ORDER.map((s) => {
    if (s !== id) return existingBlock(text, s);
    const { begin, end } = markers(s);
    return `${begin}\n${body.trimEnd()}\n${end}\n`;
  }).filter((b): b is string => !!b);
  writeFileSync(file, ["# Benchmarks\n", ...blocks].join("\n"));
}
