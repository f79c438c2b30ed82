/**
 * A subset of systemd's calendar expressions (systemd.time(7)), checked where config is read so a
 * timer systemd would refuse fails at preview, not at the first boot. Accepted: the shortcuts
 * (`daily`, `weekly`, …) and `[WEEKDAYS] [DATE] [TIME]`, with `*`, lists, `a..b` ranges and `/n`
 * repetitions in each field and `~` for days counted from the month's end. Not accepted, though
 * systemd knows them: time zones, fractional seconds, upper-case shortcuts and more than one space
 * between fields.
 */

const SHORTCUTS = new Set(["minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually", "quarterly", "semiannually"]);
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/** One field: `*`, or a comma list of `n`, `a..b`, each optionally `/step`. */
function field(text: string, min: number, max: number): boolean {
  if (text === "*") return true;
  return text.split(",").every((part) => {
    const m = /^(\*|\d+)(?:\.\.(\d+))?(?:\/(\d+))?$/.exec(part);
    if (!m) return false;
    const [, from, to, step] = m;
    const inRange = (n: string | undefined) => n === undefined || n === "*" || (Number(n) >= min && Number(n) <= max);
    if (from === "*" && to !== undefined) return false;
    if (step !== undefined && Number(step) < 1) return false;
    return inRange(from) && inRange(to) && (to === undefined || Number(from) <= Number(to));
  });
}

function weekdays(text: string): boolean {
  return text.split(",").every((part) => {
    const [from, to, extra] = part.toLowerCase().split("..");
    return extra === undefined && DAYS.includes(from) && (to === undefined || DAYS.includes(to));
  });
}

function date(text: string): boolean {
  const m = /^(?:([^-~]+)-)?([^-~]+)([-~])([^-~]+)$/.exec(text);
  if (!m) return false;
  const [, year, month, , day] = m;
  return (year === undefined || field(year, 1970, 2199)) && field(month, 1, 12) && field(day, 1, 31);
}

function time(text: string): boolean {
  const parts = text.split(":");
  if (parts.length < 2 || parts.length > 3) return false;
  return field(parts[0], 0, 23) && field(parts[1], 0, 59) && (parts[2] === undefined || field(parts[2], 0, 59));
}

/** Why systemd would refuse EXPRESSION as `OnCalendar=`, or undefined when it is accepted. */
export function calendarProblem(expression: string): string | undefined {
  const refuse = `"${expression}" is not a calendar expression homefleet accepts: a shortcut (daily, weekly, …) or [WEEKDAYS] [YEAR-MONTH-DAY] [HH:MM[:SS]], e.g. "Sun *-*-* 05:00:00"`;
  if (SHORTCUTS.has(expression)) return undefined;
  const tokens = expression.split(" ");
  if (tokens.some((t) => t === "") || tokens.length > 3) return refuse;
  let i = 0;
  if (tokens[i] !== undefined && /^[A-Za-z]/.test(tokens[i])) {
    if (!weekdays(tokens[i])) return refuse;
    i++;
  }
  if (tokens[i] !== undefined && !tokens[i].includes(":")) {
    if (!date(tokens[i])) return refuse;
    i++;
  }
  if (tokens[i] !== undefined) {
    if (!time(tokens[i])) return refuse;
    i++;
  }
  return i === tokens.length && i > 0 ? undefined : refuse;
}
