import { composeSecretFile, SecretCompositionError } from "../model/secretFile";
import type { SecretFileSpec } from "../model/specs";

const spec = (format: SecretFileSpec["format"], entries: SecretFileSpec["entries"]): SecretFileSpec => ({ path: "/var/lib/homefleet/secrets/s/f", owner: "root", group: "root", mode: "0400", format, entries });

describe("composing a secret file", () => {
  it("percent-encodes a password inside a URL", () => {
    const text = composeSecretFile(spec("env", [{ name: "DATABASE_URL", parts: ["postgresql://u:", { secret: "pw", encode: "uri" }, "@10.89.0.1:5432/db"] }]), () => "p@ss/w:rd?#");
    expect(text).toBe("DATABASE_URL=postgresql://u:p%40ss%2Fw%3Ard%3F%23@10.89.0.1:5432/db\n");
  });

  it("writes a raw file without a trailing newline", () => {
    expect(composeSecretFile(spec("raw", [{ name: "password", parts: [{ secret: "pw" }] }]), () => "abc")).toBe("abc");
  });

  it("quotes a Redis requirepass value", () => {
    expect(composeSecretFile(spec("redis-conf", [{ name: "requirepass", parts: [{ secret: "pw" }] }]), () => 'a"b\\c')).toBe('requirepass "a\\"b\\\\c"\n');
  });

  it("refuses a value with a line break, which would inject another line", () => {
    expect(() => composeSecretFile(spec("env", [{ name: "KEY", parts: [{ secret: "k" }] }]), () => "x\nEVIL=1")).toThrow(SecretCompositionError);
  });

  it("refuses a missing secret", () => {
    expect(() => composeSecretFile(spec("raw", [{ name: "password", parts: [{ secret: "nope" }] }]), () => undefined as unknown as string)).toThrow(/no value for secret nope/);
  });
});

describe("a secret that is itself an env file", () => {
  it("keeps NAME=value lines and ends each with a newline", () => {
    expect(composeSecretFile(spec("env-text", [{ name: "environment", parts: [{ secret: "e" }] }]), () => "A=1\r\nB=x y\n\n")).toBe("A=1\nB=x y\n");
  });

  it("refuses a line that is not NAME=value", () => {
    expect(() => composeSecretFile(spec("env-text", [{ name: "environment", parts: [{ secret: "e" }] }]), () => "A=1\nrm -rf /")).toThrow(SecretCompositionError);
  });
});
