/**
 * The small state file: which reports were already counted (hashed kind, reporter and report ID, with the time
 * first seen), the last report per kind and reporter, and the reporter and domain label values handed out, so a
 * restart neither counts a report twice nor reshuffles the top-N. Written whole to a temporary file and renamed.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface LastReport {
  kind: string;
  reporter: string;
  /** When we processed it and when the period it covers ended, Unix seconds. */
  received: number;
  periodEnd: number;
}

interface StateFile {
  version: 1;
  /** When this state began watching for reports (Unix seconds): "no report for 3 days" counts from here. */
  since: number;
  seen: Record<string, number>;
  last: LastReport[];
  reporters: string[];
  domains: string[];
}

export class ReportState {
  private seen = new Map<string, number>();
  last: LastReport[] = [];
  reporters: string[] = [];
  domains: string[] = [];
  since = Math.floor(Date.now() / 1000);

  constructor(readonly file: string) {}

  /** Reads the file; a missing file is an empty state, a broken one an error the caller reports. */
  load(): void {
    if (!this.file) return;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const data = JSON.parse(text) as Partial<StateFile>;
    if (data.version !== 1) throw new Error(`unknown state file version ${String(data.version)}`);
    if (typeof data.since === 'number') this.since = data.since;
    this.seen = new Map(Object.entries(data.seen ?? {}).filter(([, t]) => typeof t === 'number'));
    this.last = Array.isArray(data.last) ? data.last : [];
    this.reporters = Array.isArray(data.reporters) ? data.reporters.filter((r) => typeof r === 'string') : [];
    this.domains = Array.isArray(data.domains) ? data.domains.filter((r) => typeof r === 'string') : [];
  }

  static key(kind: string, reporter: string, reportId: string): string {
    return createHash('sha256').update(`${kind}\0${reporter}\0${reportId}`).digest('hex').slice(0, 32);
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  add(key: string, nowSeconds: number): void {
    this.seen.set(key, nowSeconds);
  }

  get size(): number {
    return this.seen.size;
  }

  setLast(entry: LastReport): void {
    const i = this.last.findIndex((l) => l.kind === entry.kind && l.reporter === entry.reporter);
    if (i >= 0) this.last[i] = entry;
    else this.last.push(entry);
  }

  /** Forgets IDs first seen before `oldest` and, past `maxEntries`, the oldest ones. */
  prune(oldestSeconds: number, maxEntries: number): void {
    for (const [k, t] of this.seen) if (t < oldestSeconds) this.seen.delete(k);
    if (this.seen.size > maxEntries) {
      const byAge = [...this.seen].sort((a, b) => a[1] - b[1]);
      for (const [k] of byAge.slice(0, this.seen.size - maxEntries)) this.seen.delete(k);
    }
  }

  save(): void {
    if (!this.file) return;
    const data: StateFile = { version: 1, since: this.since, seen: Object.fromEntries(this.seen), last: this.last, reporters: this.reporters, domains: this.domains };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(data));
    renameSync(tmp, this.file);
  }
}
