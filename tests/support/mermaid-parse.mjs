// Child-process helper for tests/support/mermaid.ts: runs the real `mermaid` package (ESM-only,
// so it cannot be loaded by CommonJS jest) in plain Node.
//
// stdin:  JSON array of diagram sources.
// stdout: one line `@@MERMAID_RESULTS@@<json>` holding [{ ok, error?, diagramType? }, ...] in order.
//
// mermaid.parse() needs a DOM only for DOMPurify (flowchart labels are sanitised); jsdom provides
// window/document. parse() alone is lenient for gantt charts: dates and durations are only
// interpreted when the gantt renderer starts, by its first step `diagObj.db.getTasks()`, which
// throws e.g. "Invalid date:not-a-time". We run that same step on mermaid's own gantt db so a
// gantt that mermaid.render() would reject is rejected here too (checked against a headless
// Chromium render of the same bundle: identical verdicts).
import { JSDOM } from "jsdom";

const MARKER = "@@MERMAID_RESULTS@@";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function message(err) {
  if (err && typeof err === "object" && "message" in err) return String(err.message);
  return String(err);
}

const sources = JSON.parse(await readStdin());
if (!Array.isArray(sources) || sources.some((s) => typeof s !== "string")) {
  throw new Error("mermaid-parse: stdin must be a JSON array of strings");
}

const dom = new JSDOM("<!doctype html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict", logLevel: "fatal" });

const results = [];
for (const source of sources) {
  try {
    const parsed = await mermaid.parse(source);
    if (parsed.diagramType === "gantt") {
      const diagram = await mermaid.mermaidAPI.getDiagramFromText(source);
      diagram.db.getTasks();
    }
    results.push({ ok: true, diagramType: parsed.diagramType });
  } catch (err) {
    results.push({ ok: false, error: message(err) });
  }
}

process.stdout.write(`\n${MARKER}${JSON.stringify(results)}\n`);
dom.window.close();
