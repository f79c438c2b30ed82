/** A file homefleet writes on a host: absolute target path, octal mode, exact content. */
export interface RenderedFile {
  readonly path: string;
  readonly mode: string;
  readonly content: string;
  /** Owner and group when not root (PostgreSQL reads pg_hba.conf as postgres). */
  readonly owner?: string;
  readonly group?: string;
}
