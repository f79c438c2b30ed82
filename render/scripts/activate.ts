import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ScriptSpec } from "./index";

/**
 * The directory of homefleet's own sources, found from this file whether it runs as TypeScript
 * (render/scripts/) or compiled (dist/render/scripts/): host scripts are real .sh files there.
 */
function sourceRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name === "homefleet") return dir;
    } catch {
      // not here: look one level up
    }
  }
  throw new Error(`homefleet's package.json was not found above ${__dirname}`);
}

/** Reads a host script once, at load: the deployer's dynamic provider carries the text, not the path. */
export function hostScriptText(fileName: string): string {
  return readFileSync(join(sourceRoot(), "render", "scripts", fileName), "utf8");
}

/**
 * The host side of a deployment (render/scripts/homefleet-activate.sh): generations, the deploy
 * lock, and one state machine for switch, confirm and rollback that the deployer and the revert
 * timer share.
 */
export const activateScript: ScriptSpec = {
  name: "homefleet-activate",
  nixRuntimeInputs: ["jq", "coreutils", "findutils", "gnutar", "gnused", "gawk", "util-linux", "iproute2", "systemd"],
  text: hostScriptText("homefleet-activate.sh"),
};
