// Entry point of the Pulumi program (Pulumi.yaml, runtime nodejs); see program.ts.
import { defineFleet } from "./program";

const fleet = defineFleet();

export const hosts = fleet.hosts;
export const stacks = fleet.stacks;
