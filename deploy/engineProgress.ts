/**
 * Progress of a deployment, shown by `pulumi up` beside the host's resource. The dynamic provider
 * runs in a process of its own that the engine starts with its address as an argument; Pulumi's
 * `log` functions are not connected there (they fall back to the console, which the engine shows
 * only at the end). So this sends each step straight to the engine's Log RPC as an ephemeral
 * message for the resource's URN: the live display shows the latest step in the resource's Info
 * column, and `--event-log` records every one.
 */
import * as grpc from "@grpc/grpc-js";

// The generated gRPC modules that @pulumi/pulumi ships (no type declarations for deep imports).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const engineProto = require("@pulumi/pulumi/proto/engine_pb");

/** The engine's address among the provider process's arguments (host:port), if it was given one. */
export function engineAddress(argv: readonly string[] = process.argv.slice(2)): string | undefined {
  return argv.find((a) => /^(127\.0\.0\.1|localhost|\[::1\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(a));
}

/** The URN of a child resource, from its parent's URN: the type chain grows by the child's type. */
export function childUrn(parentUrn: string, childType: string, childName: string): string {
  const [prefix, project, qualifiedType] = parentUrn.split("::");
  return `${prefix}::${project}::${qualifiedType}$${childType}::${childName}`;
}

let client: { log(request: unknown, callback: (err: Error | null) => void): void } | undefined;

/**
 * A reporter sending ephemeral info messages for URN, or undefined outside a provider process the
 * engine started. A message that cannot be delivered is dropped: progress never fails a deployment.
 */
export function engineProgress(urn: string | undefined, address = engineAddress()): ((message: string) => void) | undefined {
  if (!address || !urn) return undefined;
  client ??= new engineRpc.EngineClient(address, grpc.credentials.createInsecure());
  return (message) => {
    const request = new engineProto.LogRequest();
    request.setSeverity(engineProto.LogSeverity.INFO);
    request.setMessage(message);
    request.setUrn(urn);
    request.setEphemeral(true);
    client!.log(request, () => undefined);
  };
}
