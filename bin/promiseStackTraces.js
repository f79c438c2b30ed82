// The stack traces the Pulumi SDK records with its promises, left unwritten unless someone reads them.
//
// The SDK records a stack trace with every promise it makes (`debuggablePromise` in
// @pulumi/pulumi/runtime/debuggable.js: `new Error().stack`, read at once), and prints them only
// under PULUMI_DEBUG_PROMISE_LEAKS, for promises still pending when the program exits. Pulumi's
// runner installs source-map-support, which maps every frame of every one of those traces through
// the program's source maps as it is read: a preview of 30 hosts (616 resources) spent 2.3 s of the
// program's 10.8 s of CPU on traces nobody reads (docs/benchmarks.md). Without that variable they
// are now a line saying so; with it, and for every other stack trace (errors' above all), the hook
// that was installed writes them, source maps and all.
"use strict";

const UNWRITTEN = Symbol("homefleet: SDK promise stacks left unwritten");

/** What the SDK's promises record instead of their stack trace. */
const NOT_RECORDED = "Error: stack trace not recorded (set PULUMI_DEBUG_PROMISE_LEAKS to record the stack traces of pending promises)";

/**
 * Wraps the Error.prepareStackTrace installed now (source-map-support's, under Pulumi's runner) so
 * that a stack taken by the SDK's debuggablePromise is not written. Does nothing under
 * PULUMI_DEBUG_PROMISE_LEAKS, where no hook is installed, or where this wrapper is already there.
 */
function skipUnreadPromiseStacks(env = process.env) {
  const installed = Error.prepareStackTrace;
  if (env.PULUMI_DEBUG_PROMISE_LEAKS || typeof installed !== "function" || installed[UNWRITTEN]) return;
  const prepare = (error, callSites) => (callSites.length > 0 && callSites[0].getFunctionName() === "debuggablePromise" ? NOT_RECORDED : installed(error, callSites));
  prepare[UNWRITTEN] = true;
  Error.prepareStackTrace = prepare;
}

module.exports = { NOT_RECORDED, skipUnreadPromiseStacks };
