/** A dashboard document as the JSON file Grafana's file provider reads: two-space indented, keys in the model's order. */
export function renderDashboard(document: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(document, null, 2) + "\n";
}
