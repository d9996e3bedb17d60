/**
 * Hop times from the Received headers of a probe message. Each server on the way prepends one header
 * whose date (after the last `;`, one-second resolution) is when it took the message:
 *   ZoneMTA   `from ... by mta.example (ZoneMTA) with ESMTP id 18c...001.001 for <...>; Tue, 01 Dec 2026 20:00:00 +0000`
 *             (lib/sending-zone.js generateReceivedHeader; the date is when the message was queued)
 *   Haraka    `from ... by mx.example (Haraka/3.3.4) with ESMTP id <uuid> envelope-from <...>; Tue, 01 Dec 2026 20:00:01 +0000`
 *             (connection.js received_line; the date is when DATA began)
 *   a store that adds one, e.g. Dovecot or Cyrus behind LMTP: `... with LMTP id ...; date`
 *             (WildDuck's LMTP and haraka-plugin-wildduck add none: then `mx` runs until the message is seen).
 * Pure functions, tested on literal headers.
 */

/** The bounded set of hops. */
export const HOPS = ['submission', 'mta', 'mx', 'store'] as const;
export type Hop = (typeof HOPS)[number];

export interface ReceivedHeader {
  /** The `by` host's text (host and comment), for classifying. */
  text: string;
  /** Unix milliseconds, undefined when the date is missing or unreadable. */
  time?: number;
}

/** At most this many headers are read: a message with more is looping or hostile. */
export const MAX_RECEIVED = 50;

/** Parses one Received header value (unfolded or not). */
export function parseReceived(value: string): ReceivedHeader {
  const text = value.replace(/\r?\n[ \t]*/g, ' ').trim();
  const semi = text.lastIndexOf(';');
  let time: number | undefined;
  if (semi >= 0) {
    // Comments such as "(CEST)" after the zone confuse Date.parse.
    const ms = Date.parse(text.slice(semi + 1).replace(/\([^)]*\)/g, '').trim());
    if (Number.isFinite(ms)) time = ms;
  }
  return { text: semi >= 0 ? text.slice(0, semi) : text, time };
}

/** The Received header values of a raw header block, newest (topmost) first. */
export function receivedHeaders(rawHeaders: string): string[] {
  const unfolded = rawHeaders.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  const out: string[] = [];
  for (const line of unfolded.split(/\r?\n/)) {
    const m = /^received:[ \t]*(.*)$/i.exec(line);
    if (m) out.push(m[1]);
    if (out.length >= MAX_RECEIVED) break;
  }
  return out;
}

export interface HopPatterns {
  mx: RegExp;
  store: RegExp;
}

/**
 * Seconds per hop, from the probe's send time to the time it saw the message:
 *   submission  send -> the first server's Received (it accepted the message)
 *   mta         the first server -> the MX (queue and outbound delivery; absent when the probe submits to the MX)
 *   mx          the MX -> the store's Received, or -> seen when the store adds none
 *   store       the store's Received -> seen
 * Headers are given newest first (as in the message). A hop whose ends are unknown is left out; a negative
 * difference (one-second dates, clock skew) counts as 0.
 */
export function hopSeconds(headersNewestFirst: string[], sentMs: number, seenMs: number, patterns: HopPatterns): Partial<Record<Hop, number>> {
  const parsed = headersNewestFirst.slice(0, MAX_RECEIVED).map(parseReceived).reverse(); // oldest first
  // Headers the probe's own side may add before submission would be older than the send: ignore them.
  const dated = parsed.filter((h) => h.time !== undefined && h.time >= sentMs - 60_000);
  if (dated.length === 0) return {};
  const isStore = (h: ReceivedHeader) => patterns.store.test(h.text);
  const isMx = (h: ReceivedHeader) => !isStore(h) && patterns.mx.test(h.text);
  const first = dated[0];
  const store = dated.find(isStore);
  // The MX: the header that says so, else the newest header that is neither the first nor the store's.
  let mx = dated.find(isMx);
  if (!mx) {
    const candidates = dated.filter((h) => h !== first && !isStore(h));
    mx = candidates[candidates.length - 1];
  }
  if (!mx && !isStore(first)) mx = first;
  const secs = (from: number, to: number) => Math.max(0, to - from) / 1000;
  const out: Partial<Record<Hop, number>> = {};
  out.submission = secs(sentMs, first.time!);
  if (mx && mx !== first) out.mta = secs(first.time!, mx.time!);
  if (mx) out.mx = secs(mx.time!, store ? store.time! : seenMs);
  if (store) out.store = secs(store.time!, seenMs);
  return out;
}
