export { FleetHost, type FleetHostArgs } from "./FleetHost";
