/**
 * A worker thread that runs bcrypt for BasicAuth (webconfig.ts), so a flood of wrong passwords costs CPU
 * in a worker, never event-loop time in the exporter or in the host of a plugin.
 * Messages: { id, op: 'compare', password, hash } -> { id, ok }; { id, op: 'hash', password, rounds } -> { id, hash }.
 */
import { parentPort, workerData } from 'node:worker_threads';

// From TypeScript sources (tsx, jest) the kit passes the resolved path; built files require it normally.
const path = (workerData as { bcryptPath?: string } | undefined)?.bcryptPath;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const bcrypt: typeof import('bcryptjs') = path ? require(path) : require('bcryptjs');

parentPort?.on('message', (msg: { id: number; op: string; password: string; hash?: string; rounds?: number }) => {
  try {
    if (msg.op === 'hash') parentPort!.postMessage({ id: msg.id, hash: bcrypt.hashSync(msg.password, msg.rounds ?? 10) });
    else parentPort!.postMessage({ id: msg.id, ok: bcrypt.compareSync(msg.password, msg.hash ?? '') });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
  }
});
