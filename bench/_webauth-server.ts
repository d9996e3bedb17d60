/**
 * The server side of bench/webauth.ts, in its own process so its event loop is the one measured:
 * `tsx bench/_webauth-server.ts <inline|pool> <bcrypt hash>`; prints the port once listening.
 * inline: bcryptjs on the event loop, no bound (what the kit did before), pool: the kit's BasicAuth as shipped.
 */
import bcrypt from 'bcryptjs';
import type { Bcrypt } from '../exporters/kit/bcrypt-pool';
import { silentLogger } from '../exporters/kit/log';
import { startWebServer } from '../exporters/kit/web';

const [mode, hash] = process.argv.slice(2) as ['inline' | 'pool', string];

const inline: Bcrypt = {
  compare: (password, h) => bcrypt.compare(password, h),
  hash: (password, rounds) => bcrypt.hash(password, rounds),
  close: async () => undefined,
};

void (async () => {
  const web = await startWebServer({
    address: '127.0.0.1:0',
    webConfig: { basicAuthUsers: new Map([['prometheus', hash]]) },
    log: silentLogger,
    routes: { '/metrics': () => ({ body: '# HELP demo_up x\n# TYPE demo_up gauge\ndemo_up 1\n' }) },
    basicAuth: mode === 'inline' ? { bcrypt: inline, maxConcurrent: Infinity, maxQueued: Infinity } : {},
  });
  process.stdout.write(`${web.port}\n`);
  process.stdin.on('data', () => void web.stop().then(() => process.exit(0)));
})();
