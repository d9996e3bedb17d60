/**
 * The probe's memory across restarts: every message it sent and has not finished with, in a small JSON file
 * written atomically (temporary file, then rename) after each change. A restart reads it back, so a message in
 * flight is neither forgotten nor counted twice, and mail found but not yet deleted is deleted next round.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type Outcome =
  /** Sent, not yet found, its timeout not yet passed. */
  | 'pending'
  /** Its round already failed (timeout, deliver or fetch): found now, it is late. */
  | 'failed'
  /** Found and counted; only the deletion is left. */
  | 'found';

export interface InFlight {
  route: string;
  token: string;
  /** Unix ms when the probe began to submit it. */
  sentAt: number;
  outcome: Outcome;
  /** The MTA's queue id, when the submission answer named one (for asking the MTA about it). */
  queueId?: string;
  /** Where a copy must also be deleted (WildDuck's submit keeps one in Sent): mailbox id and message id. */
  sentCopy?: { mailbox: string; id: number };
}

/** A hostile or broken file cannot make the probe hold more than this. */
export const MAX_IN_FLIGHT = 10_000;

/** Parses the state file's text; anything malformed is dropped (reported through `onDropped`). */
export function parseState(text: string, onDropped: (why: string) => void = () => undefined): InFlight[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    onDropped('the state file is not JSON');
    return [];
  }
  const list = (doc as { messages?: unknown })?.messages;
  if (!Array.isArray(list)) {
    onDropped('the state file has no messages list');
    return [];
  }
  const out: InFlight[] = [];
  for (const m of list.slice(0, MAX_IN_FLIGHT)) {
    const e = m as Partial<InFlight>;
    if (
      typeof e?.route === 'string' &&
      typeof e.token === 'string' &&
      /^[0-9a-f]{32}$/.test(e.token) &&
      typeof e.sentAt === 'number' &&
      Number.isFinite(e.sentAt) &&
      (e.outcome === 'pending' || e.outcome === 'failed' || e.outcome === 'found')
    ) {
      const entry: InFlight = { route: e.route, token: e.token, sentAt: e.sentAt, outcome: e.outcome };
      if (typeof e.queueId === 'string' && /^[A-Za-z0-9._-]{1,80}$/.test(e.queueId)) entry.queueId = e.queueId;
      if (typeof e.sentCopy?.mailbox === 'string' && /^[0-9a-f]{24}$/.test(e.sentCopy.mailbox) && Number.isInteger(e.sentCopy.id)) {
        entry.sentCopy = { mailbox: e.sentCopy.mailbox, id: e.sentCopy.id };
      }
      out.push(entry);
    } else {
      onDropped('a malformed entry');
    }
  }
  if (list.length > MAX_IN_FLIGHT) onDropped(`${list.length - MAX_IN_FLIGHT} entries beyond ${MAX_IN_FLIGHT}`);
  return out;
}

export class StateFile {
  constructor(private readonly path: string) {}

  /** The saved messages; none when there is no file yet. */
  load(onDropped?: (why: string) => void): InFlight[] {
    if (!this.path) return [];
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`cannot read the state file ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return parseState(text, onDropped);
  }

  /** Writes the whole list (it is small: the messages of the last late_threshold at most). */
  save(messages: InFlight[]): void {
    if (!this.path) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, messages }) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
