/**
 * A small pool of worker threads running bcrypt (bcrypt-worker.ts). bcrypt is slow on purpose; inline it
 * would stall the event loop of the exporter, or of Haraka or ZoneMTA for the plugins, once per guess.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/** What BasicAuth needs from bcrypt; tests give it a counting or gated one. */
export interface Bcrypt {
  compare(password: string, hash: string): Promise<boolean>;
  hash(password: string, rounds: number): Promise<string>;
  close(): Promise<void>;
}

interface Job {
  msg: Record<string, unknown>;
  resolve(value: { ok?: boolean; hash?: string }): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  job?: Job;
}

/** Built code (dist/, the plugin bundles) has bcrypt-worker.js beside it; TypeScript sources compile it here. */
function spawnWorker(): Worker {
  const built = join(__dirname, 'bcrypt-worker.js');
  if (existsSync(built)) return new Worker(built);
  // Names in variables: a bundler must not pull these in (esbuild is a dev dependency, only where sources run).
  const [esbuild, bcryptjs] = ['esbuild', 'bcryptjs'];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { code } = require(esbuild).transformSync(readFileSync(join(__dirname, 'bcrypt-worker.ts'), 'utf8'), { loader: 'ts', format: 'cjs' });
  return new Worker(code, { eval: true, workerData: { bcryptPath: require.resolve(bcryptjs) } });
}

export class BcryptPool implements Bcrypt {
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly size = Math.max(1, Math.min(2, availableParallelism()))) {}

  async compare(password: string, hash: string): Promise<boolean> {
    return (await this.run({ op: 'compare', password, hash })).ok === true;
  }

  async hash(password: string, rounds: number): Promise<string> {
    return String((await this.run({ op: 'hash', password, rounds })).hash);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.reject(new Error('bcrypt pool closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private run(msg: Record<string, unknown>): Promise<{ ok?: boolean; hash?: string }> {
    if (this.closed) return Promise.reject(new Error('bcrypt pool closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ msg: { ...msg, id: this.nextId++ }, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      const slot = this.slots.find((s) => !s.job) ?? (this.slots.length < this.size ? this.spawn() : undefined);
      if (!slot) return;
      slot.job = this.waiting.shift()!;
      slot.worker.postMessage(slot.job.msg);
    }
  }

  private spawn(): Slot {
    const slot: Slot = { worker: spawnWorker() };
    slot.worker.unref(); // never keeps the process (or its host) alive
    slot.worker.on('message', (reply: { ok?: boolean; hash?: string; error?: string }) => {
      const job = slot.job;
      slot.job = undefined;
      if (reply.error) job?.reject(new Error(reply.error));
      else job?.resolve(reply);
      this.pump();
    });
    const gone = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      slot.job?.reject(err);
      slot.job = undefined;
      if (!this.closed) this.pump();
    };
    slot.worker.on('error', gone);
    slot.worker.on('exit', (code) => gone(new Error(`bcrypt worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}
