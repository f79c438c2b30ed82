/**
 * HostSession's connection against a local ssh2 server: how it authenticates and that its socket
 * sends small packets at once (TCP_NODELAY). Without that, each request/answer of the handshake
 * waits for the peer's delayed ACK (~40 ms a round trip on Linux).
 */
import net from "node:net";
import { Server, utils } from "ssh2";
import { HostSession } from "../deploy/ssh";

/**
 * An ed25519 key pair ssh2 can read back: its generateKeyPairSync strips leading zero bytes from
 * the public key, so about one pair in 256 is refused by its own parser (mscdex/ssh2#1513).
 */
function keyPair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync("ed25519");
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

const hostKey = keyPair();
const userKey = keyPair();
const otherKey = keyPair();

interface Seen {
  methods: string[];
  signed: boolean;
}

function startServer(seen: Seen): Promise<{ server: Server; port: number }> {
  const allowed = utils.parseKey(userKey.public);
  if (allowed instanceof Error) throw allowed;
  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on("authentication", (ctx) => {
      seen.methods.push(ctx.method);
      if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
      if (ctx.key.algo !== allowed.type || !ctx.key.data.equals(allowed.getPublicSSH())) return ctx.reject(["publickey"]);
      if (!ctx.signature) return ctx.accept(); // the client asks whether the key would do, then signs
      seen.signed = allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true;
      return seen.signed ? ctx.accept() : ctx.reject(["publickey"]);
    });
    client.on("ready", () =>
      client.on("session", (accept) => {
        accept().once("exec", (acceptExec, _reject, info) => {
          const channel = acceptExec();
          channel.write(`ran ${info.command.length > 0 ? "a command" : "nothing"}\n`);
          channel.exit(0);
          channel.end();
        });
      }),
    );
    client.on("error", () => undefined);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as net.AddressInfo).port })));
}

describe("HostSession.connect", () => {
  let server: Server;
  let port: number;
  const seen: Seen = { methods: [], signed: false };

  beforeAll(async () => ({ server, port } = await startServer(seen)));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    seen.methods = [];
    seen.signed = false;
  });
  afterEach(() => jest.restoreAllMocks());

  const target = (privateKey: string) => ({ host: "local", address: "127.0.0.1", port, user: "root", privateKey });

  it("sets TCP_NODELAY on its socket before the handshake, and offers the key without asking for 'none' first", async () => {
    const noDelay = jest.spyOn(net.Socket.prototype, "setNoDelay");
    const session = await HostSession.connect(target(userKey.private));
    try {
      expect(noDelay).toHaveBeenCalledWith(true);
      // The key check, then the signed request: two requests, both for the key.
      expect(seen.methods).toEqual(["publickey", "publickey"]);
      expect(seen.signed).toBe(true);
      expect(session.hostKey.startsWith("ssh-ed25519 ")).toBe(true);
      const r = await session.exec("true");
      expect(r).toEqual({ code: 0, stdout: "ran a command\n", stderr: "" });
    } finally {
      session.close();
    }
  });

  it("names the host when the host refuses the key", async () => {
    await expect(HostSession.connect(target(otherKey.private))).rejects.toThrow(/cannot connect to root@127\.0\.0\.1:\d+: All configured authentication methods failed/);
    expect(seen.methods).toEqual(["publickey"]);
  });
});
