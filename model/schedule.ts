/**
 * A host's day of timers: when each nightly job may run, judged as the review judges it. A job's
 * window is its start, plus its randomized delay, plus an assumed run time. homefleet places the
 * jobs whose times no config key sets (a second cache's snapshot, certificate renewals, the
 * certificate check) in the first free window, so its own schedule never collides with itself.
 */

/** How long a nightly job is assumed to run when judging overlaps (real home-server jobs take minutes). */
export const NOMINAL_RUN_MINUTES = 10;
/** Certificate renewals at least this far apart: never two at a CA or on port 80 at once. */
export const RENEWAL_STAGGER_MINUTES = 30;
/** Placed jobs start on these steps, so the schedule stays readable. */
const PLACEMENT_STEP_MINUTES = 5;
const DAY_MINUTES = 24 * 60;

const CALENDAR = /^(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?\*-\*-\* ([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$/;

export interface DayWindow {
  /** Minutes after midnight. */
  readonly start: number;
  readonly end: number;
  /** Set for a weekly job: the window exists on that day only. */
  readonly weekday?: string;
}

/** The window of a timer, or undefined when its expression is not one a day can hold (`*-*-* HH:MM[:SS]`, optionally with one weekday). */
export function dayWindow(onCalendar: string, randomizedDelaySec: number): DayWindow | undefined {
  const m = onCalendar.match(CALENDAR);
  if (!m) return undefined;
  const start = Number(m[2]) * 60 + Number(m[3]);
  return { start, end: start + Math.ceil(randomizedDelaySec / 60) + NOMINAL_RUN_MINUTES, weekday: m[1] };
}

/** Whether two windows can run at the same time on some day. */
export function windowsOverlap(a: DayWindow, b: DayWindow): boolean {
  if (a.weekday && b.weekday && a.weekday !== b.weekday) return false;
  return a.start < b.end && b.start < a.end;
}

/** `HH:MM` of minutes after midnight. */
export function clockTime(minutes: number): string {
  const m = ((minutes % DAY_MINUTES) + DAY_MINUTES) % DAY_MINUTES;
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return h * 60 + m;
}

/** The windows taken so far on one host; `place` takes the first free one. */
export class DaySchedule {
  private readonly taken: DayWindow[] = [];

  constructor(fixed: readonly { onCalendar: string; randomizedDelaySec: number }[]) {
    for (const t of fixed) {
      const w = dayWindow(t.onCalendar, t.randomizedDelaySec);
      if (w) this.taken.push(w);
    }
  }

  /**
   * The first daily window starting at or after EARLIEST (on the placement step) that overlaps no
   * taken window, recorded as taken. When the day has no room left, the window at EARLIEST itself:
   * the review then reports the overlap.
   */
  place(earliest: number, randomizedDelaySec: number): DayWindow {
    const length = Math.ceil(randomizedDelaySec / 60) + NOMINAL_RUN_MINUTES;
    const first = Math.ceil(earliest / PLACEMENT_STEP_MINUTES) * PLACEMENT_STEP_MINUTES;
    let start = earliest;
    for (let s = first; s + length <= DAY_MINUTES; s += PLACEMENT_STEP_MINUTES) {
      if (!this.taken.some((t) => windowsOverlap(t, { start: s, end: s + length }))) {
        start = s;
        break;
      }
    }
    const window = { start, end: start + length };
    this.taken.push(window);
    return window;
  }
}
