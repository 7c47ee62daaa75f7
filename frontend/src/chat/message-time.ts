const DAY_MS = 86_400_000;

/** Formatters per locale: building one costs far more than using it, and a long conversation uses many. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(locale: string | undefined, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale ?? ''}|${JSON.stringify(options)}`;
  let found = formatters.get(key);
  if (found === undefined) {
    found = new Intl.DateTimeFormat(locale, options);
    formatters.set(key, found);
  }
  return found;
}

/**
 * When a message was written, short, in the reader's locale and time zone: the time of day today, the weekday
 * and time within the last six days, the day and month this year, else the date with its year.
 */
export function shortMessageTime(at: Date, now: Date, locale?: string): string {
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const time = at.getTime();
  // The locale's own short time ("14:05", "2:05 PM"): a numeric hour would write "0:05" after midnight.
  const timeOfDay = (): string => formatter(locale, { timeStyle: 'short' }).format(at);
  if (time >= startOfToday && time < startOfToday + DAY_MS) return timeOfDay();
  if (time < startOfToday && time >= startOfToday - 6 * DAY_MS) {
    return `${formatter(locale, { weekday: 'short' }).format(at)} ${timeOfDay()}`;
  }
  if (at.getFullYear() === now.getFullYear()) {
    return formatter(locale, { day: 'numeric', month: 'short' }).format(at);
  }
  return formatter(locale, { day: 'numeric', month: 'short', year: 'numeric' }).format(at);
}

/** The whole date and time, for the tooltip of the short form. */
export function fullMessageTime(at: Date, locale?: string): string {
  return formatter(locale, { dateStyle: 'full', timeStyle: 'short' }).format(at);
}
