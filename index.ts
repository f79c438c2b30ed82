// Entry point of the Pulumi program (Pulumi.yaml, runtime nodejs); see program.ts.
import { defineFleet } from "./program";

const fleet = defineFleet();

export const hosts = fleet.hosts;
export const stacks = fleet.stacks;
export const release = fleet.release;
export const promotion = fleet.promotion ?? "not gated: homefleet:promoteFrom is not set";
