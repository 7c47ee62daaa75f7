const whole = new Intl.NumberFormat('en-US');
const dollars = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
});
// Single calls cost fractions of a cent: below a dollar, four decimals keep them from showing as $0.00.
const cents = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 4,
});

export function formatCount(value: number): string {
  return whole.format(value);
}

export function formatUsd(value: number): string {
  return Math.abs(value) < 1 ? cents.format(value) : dollars.format(value);
}

/** A timestamp as the admin's locale writes it, to the minute. */
export function formatDateTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
