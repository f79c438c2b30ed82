import * as pulumi from "@pulumi/pulumi";
import type { DatabaseSpec, GeneratedSecretSpec } from "../model/specs";
import { GeneratedSecret } from "./GeneratedSecret";

export interface DatabaseArgs {
  /** The database, its owner role and where the password file goes on the host. */
  readonly spec: DatabaseSpec;
  /** The generated-secret description for the role's password. */
  readonly password: GeneratedSecretSpec;
  /** The host whose PostgreSQL server holds the database. */
  readonly host: string;
}

/** A database and its owner role on the host's PostgreSQL, with a generated password. */
export class Database extends pulumi.ComponentResource {
  public readonly name: pulumi.Output<string>;
  public readonly user: pulumi.Output<string>;
  /** A Pulumi secret. */
  public readonly password: pulumi.Output<string>;
  public readonly passwordFile: pulumi.Output<string>;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("homefleet:postgres:Database", name, {}, opts);
    const password = new GeneratedSecret(`${name}-password`, args.password, { parent: this });
    this.name = pulumi.output(args.spec.name);
    this.user = pulumi.output(args.spec.user);
    this.password = pulumi.secret(password.result);
    this.passwordFile = pulumi.output(args.spec.passwordFile);
    this.registerOutputs({ name: this.name, user: this.user, password: this.password, passwordFile: this.passwordFile, host: args.host });
  }
}
