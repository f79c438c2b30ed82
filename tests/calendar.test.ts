/**
 * The calendar check agrees with systemd: every expression of the corpus is run through the real
 * `systemd-analyze calendar`, and homefleet accepts exactly those systemd accepts, except the few
 * forms homefleet keeps out on purpose (listed, and each refused by homefleet).
 */
import { calendarProblem } from "../config/calendar";
import { ConfigError, parseFleetConfig } from "../config/load";
import { run } from "./support/validators";

const CORPUS = [
  "Sun *-*-* 05:00:00", "daily", "weekly", "hourly", "semiannually", "Mon..Fri 08:00", "Mon,Wed *-*-* 04:00", "*-*-01 03:00:00",
  "2026-12-24", "*:0/15", "Sun 5:00", "Fri *-*-1..7 04:00", "*-*~01 02:00", "05:00", "Sat", "*-02-30 00:00", "Monday 00:00:00", "12-24 18:00",
  "banana", "Sat,Sun 25:00", "Sun-Mon 05:00", "Mon ..Fri 08:00", "1..7 04:00", "*-13-01 00:00", "Sun *-*-* 05:60:00", "Sun  05:00",
  "05:00 Sun", "Sun,, 05:00", "*-*-* *:*:*:*", "*-*-32", "--no-block", "Sun *-*-* 05:00:00 UTC", "1..0:00",
];
/** Valid for systemd, refused by homefleet on purpose (see config/calendar.ts). */
const STRICTER = ["Sun *-*-* 05:00:00 UTC", "Sun  05:00"];

describe("calendar expressions", () => {
  it.each(CORPUS)("%s: homefleet agrees with systemd-analyze calendar", (expression) => {
    const systemd = run("systemd-analyze", ["calendar", expression]).status === 0;
    const homefleet = calendarProblem(expression) === undefined;
    expect({ expression, homefleet }).toEqual({ expression, homefleet: STRICTER.includes(expression) ? false : systemd });
  });

  it("keeps the corpus honest: systemd accepts some and refuses some", () => {
    const verdicts = CORPUS.map((e) => run("systemd-analyze", ["calendar", e]).status === 0);
    expect(verdicts.filter(Boolean).length).toBeGreaterThan(10);
    expect(verdicts.filter((v) => !v).length).toBeGreaterThan(10);
  });

  it("refuses a bad restic check calendar with the config path", () => {
    const host = { address: "192.0.2.10", arch: "x86_64", os: "systemd", backup: { offsite: { repository: "/mnt/usb/restic", passwordConfig: "resticPassword", checkCalendar: "banana" } } };
    const stacks = { web: { host: "box", kind: "container", network: { subnet: "10.89.1.0/24" }, container: { image: "docker.io/library/nginx:1.27.3", port: 8080, healthCheck: { path: "/" } } } };
    let problems: unknown = [];
    try {
      parseFleetConfig({ hosts: { box: host }, stacks, configKeys: ["resticPassword"] });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      {
        path: "homefleet:hosts.box.backup.offsite.checkCalendar",
        message: '"banana" is not a calendar expression homefleet accepts: a shortcut (daily, weekly, …) or [WEEKDAYS] [YEAR-MONTH-DAY] [HH:MM[:SS]], e.g. "Sun *-*-* 05:00:00"',
      },
    ]);
  });
});
