/** postgresql.conf syntax: strings single-quoted with `'` doubled; numbers bare. */
export function postgresConfValue(value: string | number): string {
  if (typeof value === "number") return String(value);
  if (/[\n\r\0]/.test(value)) throw new Error("PostgreSQL settings cannot contain line breaks");
  return `'${value.replace(/'/g, "''")}'`;
}

export function renderPostgresConf(settings: Readonly<Record<string, string | number>>): string {
  const lines = Object.keys(settings)
    .sort()
    .map((key) => {
      if (!/^[a-z_][a-z0-9_.]*$/.test(key)) throw new Error(`bad PostgreSQL setting name ${JSON.stringify(key)}`);
      return `${key} = ${postgresConfValue(settings[key])}`;
    });
  return lines.join("\n") + "\n";
}
