/**
 * `homefleet render` over an earlier render updates it in place: what is already right stays,
 * everything else ends as a fresh render would leave it.
 */
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync, type Stats } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../cli/main";

const ROOT = join(__dirname, "..");
const UNIT = join("box-staging", "etc", "systemd", "system", "redis-litellm-box.service");

async function render(out: string): Promise<void> {
  const io = { out: { write: () => true }, err: { write: () => true }, cwd: ROOT } as unknown as NonNullable<Parameters<typeof main>[1]>;
  expect(await main(["node", "homefleet", "render", "--stack", "staging", "--out", out], io)).toBe(0);
}

let scratch: string;
let fresh: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "homefleet-rerender-"));
  fresh = join(scratch, "fresh");
  await render(fresh);
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function rerendered(name: string, edit: (out: string) => void): Promise<string> {
  const out = join(scratch, name);
  await render(out);
  edit(out);
  await render(out);
  return out;
}

it("leaves a file that is already right alone (same inode, same modification time)", async () => {
  const before: Stats[] = [];
  const out = await rerendered("untouched", (o) => before.push(statSync(join(o, UNIT))));
  const after = statSync(join(out, UNIT));
  expect({ ino: after.ino, mtimeMs: after.mtimeMs }).toEqual({ ino: before[0].ino, mtimeMs: before[0].mtimeMs });
});

it("writes back a file edited by hand, and a hard link to the edited file keeps the edit", async () => {
  const link = join(scratch, "hand-edit-link");
  const out = await rerendered("hand-edit", (o) => {
    writeFileSync(join(o, UNIT), "edited\n");
    linkSync(join(o, UNIT), link);
  });
  expect(readFileSync(join(out, UNIT))).toEqual(readFileSync(join(fresh, UNIT)));
  expect(readFileSync(link, "utf8")).toBe("edited\n");
});

it("restores a file's mode", async () => {
  const out = await rerendered("mode", (o) => chmodSync(join(o, UNIT), 0o600));
  expect(statSync(join(out, UNIT)).mode & 0o7777).toBe(statSync(join(fresh, UNIT)).mode & 0o7777);
});

it("replaces a symlink where a file belongs, without writing through it", async () => {
  const target = join(scratch, "symlink-target");
  writeFileSync(target, "not homefleet's\n");
  const out = await rerendered("symlink", (o) => {
    unlinkSync(join(o, UNIT));
    symlinkSync(target, join(o, UNIT));
  });
  expect(lstatSync(join(out, UNIT)).isFile()).toBe(true);
  expect(readFileSync(join(out, UNIT))).toEqual(readFileSync(join(fresh, UNIT)));
  expect(readFileSync(target, "utf8")).toBe("not homefleet's\n");
});

it("replaces a directory where a file belongs", async () => {
  const out = await rerendered("directory", (o) => {
    unlinkSync(join(o, UNIT));
    mkdirSync(join(o, UNIT, "inside"), { recursive: true });
  });
  expect(readFileSync(join(out, UNIT))).toEqual(readFileSync(join(fresh, UNIT)));
});
