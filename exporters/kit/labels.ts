/**
 * Bounded label values. Values from outside (domains, codes, plugin names, GELF fields) never become
 * labels directly: they pass an allowlist, or a first-come top-N, and everything else is `other`.
 */

export const OTHER = 'other';

/** Returns the value when it is in the allowed set, else 'other'. Empty, false or missing values are `fallback`. */
export function allowlisted(value: unknown, allowed: ReadonlySet<string>, fallback = 'none'): string {
  if (value === undefined || value === null || value === '' || value === false) return fallback;
  const s = String(value);
  return allowed.has(s) ? s : OTHER;
}

/**
 * Keeps at most `max` distinct values (the first ones seen since start), plus `other` for the rest.
 * Used for labels whose values cannot be listed in advance but must stay bounded (zones, components).
 * `accept` says which values may become labels at all (a pattern or a test); an `@` never does.
 * The exporters and both plugins (bundled at build time) share this one implementation.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  private readonly accept: (value: string) => boolean;

  constructor(
    readonly max: number,
    accept: RegExp | ((value: string) => boolean) = /^[A-Za-z0-9_.:-]{1,64}$/,
  ) {
    this.accept = typeof accept === 'function' ? accept : (value) => accept.test(value);
  }

  value(raw: unknown, fallback = 'none'): string {
    if (raw === undefined || raw === null || raw === '' || raw === false) return fallback;
    const s = String(raw);
    if (this.seen.has(s)) return s;
    // Values that look like free text (spaces, @, very long) never become labels.
    if (!this.accept(s) || s.includes('@') || this.seen.size >= this.max) return OTHER;
    this.seen.add(s);
    return s;
  }
}
