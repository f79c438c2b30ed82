// The part of js-yaml 4's API that config/stackYaml.ts uses (js-yaml ships no types; the
// DefinitelyTyped package would be one more dependency for three declarations).
declare module "js-yaml" {
  export class Type {
    constructor(tag: string, options: { kind: "scalar" | "sequence" | "mapping"; resolve?: (data: any) => boolean; construct?: (data: any) => unknown });
  }
  export class Schema {
    constructor(definition: { implicit?: Type[]; explicit?: Type[] });
  }
  export function load(input: string, options?: { schema?: Schema; listener?: (event: "open" | "close", state: any) => void }): unknown;
}
