/**
 * A minimal ustar writer for the generation upload: regular files and their directories, with
 * modes, owned by root. Enough for GNU tar on the host to extract; nothing else is needed.
 */

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function header(name: string, mode: number, size: number, type: "0" | "5"): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  let prefix = "";
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    // ustar: split at a '/' so that prefix ≤ 155 and name ≤ 100 bytes.
    const cut = name.lastIndexOf("/", name.length - 1 - 0);
    let i = cut;
    while (i > 0 && (Buffer.byteLength(name.slice(i + 1)) > 100 || Buffer.byteLength(name.slice(0, i)) > 155)) i = name.lastIndexOf("/", i - 1);
    if (i <= 0) throw new Error(`path too long for ustar: ${name}`);
    prefix = name.slice(0, i);
    base = name.slice(i + 1);
  }
  h.write(base, 0, 100, "utf8");
  h.write(octal(mode & 0o7777, 8), 100, 8, "ascii");
  h.write(octal(0, 8), 108, 8, "ascii"); // uid root
  h.write(octal(0, 8), 116, 8, "ascii"); // gid root
  h.write(octal(size, 12), 124, 12, "ascii");
  h.write(octal(0, 12), 136, 12, "ascii"); // mtime: fixed, so uploads are reproducible
  h.write("        ", 148, 8, "ascii"); // checksum placeholder
  h.write(type, 156, 1, "ascii");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write("root", 265, 32, "ascii");
  h.write("root", 297, 32, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(octal(sum, 7) + " ", 148, 8, "ascii");
  return h;
}

export interface TarEntry {
  /** Relative path inside the archive, e.g. `files/etc/homefleet/x.conf`. */
  readonly path: string;
  readonly mode: number;
  readonly content: Buffer | string;
}

export function createTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const e of entries) {
    if (e.path.startsWith("/") || e.path.split("/").includes("..")) throw new Error(`unsafe path in tar: ${e.path}`);
    const segments = e.path.split("/");
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join("/") + "/";
      if (!dirs.has(dir)) {
        dirs.add(dir);
        parts.push(header(dir, 0o755, 0, "5"));
      }
    }
    const body = typeof e.content === "string" ? Buffer.from(e.content, "utf8") : e.content;
    parts.push(header(e.path, e.mode, body.length, "0"), body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}
