/** The messages in flight of every route, kept in the state file after each change. */
import type { Logger } from '../kit/log';
import { type InFlight, MAX_IN_FLIGHT, StateFile } from './state';

export class Ledger {
  private entries: InFlight[];
  private readonly file: StateFile;

  constructor(
    path: string,
    private readonly log: Logger,
  ) {
    this.file = new StateFile(path);
    this.entries = this.file.load((why) => log.warn('dropped from the state file', { why }));
    if (this.entries.length) log.info('messages in flight from before the restart', { count: this.entries.length });
  }

  of(route: string): InFlight[] {
    return this.entries.filter((e) => e.route === route);
  }

  /** Keeps only the routes that still exist: a removed route's messages are never counted. */
  keepRoutes(routes: string[]): void {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => routes.includes(e.route));
    if (this.entries.length !== before) this.save();
  }

  add(entry: InFlight): void {
    // Bounded: a mailbox that never shows anything cannot grow the file without end.
    if (this.entries.length >= MAX_IN_FLIGHT) this.entries.shift();
    this.entries.push(entry);
    this.save();
  }

  remove(entry: InFlight): void {
    this.entries = this.entries.filter((e) => e !== entry);
    this.save();
  }

  save(): void {
    try {
      this.file.save(this.entries);
    } catch (err) {
      this.log.error('cannot write the state file: a restart would forget the messages in flight', { err: (err as Error).message });
    }
  }
}
