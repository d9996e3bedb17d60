/** The one web server behind every /metrics (exporters and both plugins): routing, failures, exposure warning. */
import { createLogger } from '../../exporters/kit/log';
import { exposureWarning, isLoopback, startWebServer, type WebServer } from '../../exporters/kit/web';

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: 'debug', write: (l) => lines.push(l) }) };
}

describe('startWebServer', () => {
  let web: WebServer | undefined;
  afterEach(async () => {
    await web?.stop();
    web = undefined;
  });

  test('a handler that throws, or rejects, answers 500 with the reason; the server goes on serving', async () => {
    const { lines, log } = capture();
    let calls = 0;
    web = await startWebServer({
      address: '127.0.0.1:0',
      webConfig: { headers: { 'X-Frame-Options': 'deny' } },
      log,
      routes: {
        '/sync': () => {
          throw new Error('collect exploded');
        },
        '/async': async () => {
          calls++;
          throw new TypeError("Cannot read properties of undefined (reading 'end')");
        },
        '/ok': () => ({ body: 'fine\n' }),
      },
    });
    const sync = await fetch(`${web.url}/sync`);
    expect(sync.status).toBe(500);
    expect(await sync.text()).toBe('error: collect exploded\n');
    expect(sync.headers.get('x-frame-options')).toBe('deny');
    expect((await fetch(`${web.url}/async`)).status).toBe(500);
    expect(calls).toBe(1);
    const ok = await fetch(`${web.url}/ok?x=1`);
    expect([ok.status, await ok.text(), ok.headers.get('x-frame-options')]).toEqual([200, 'fine\n', 'deny']);
    expect((await fetch(`${web.url}/ok`, { method: 'HEAD' })).headers.get('content-length')).toBe('5');
    expect((await fetch(`${web.url}/ok`, { method: 'DELETE' })).status).toBe(405);
    expect((await fetch(`${web.url}/nope`)).status).toBe(404);
    expect((await fetch(`${web.url}/constructor`)).status).toBe(404); // only own routes
    expect(lines.filter((l) => /level=error msg="request failed" path=\/(a)?sync/.test(l))).toHaveLength(2);
  });

  test("a host logger that throws changes nothing: the failing request still gets its 500", async () => {
    const explode = () => {
      throw new Error('log stream closed');
    };
    web = await startWebServer({
      address: '127.0.0.1:0',
      webConfig: {},
      log: { debug: explode, info: explode, warn: explode, error: explode },
      routes: { '/metrics': () => Promise.reject(new Error('collect failed')) },
    });
    const res = await fetch(`${web.url}/metrics`);
    expect([res.status, await res.text()]).toEqual([500, 'error: collect failed\n']);
  });

  test('a taken address rejects; loopback logs no exposure warning', async () => {
    const { lines, log } = capture();
    web = await startWebServer({ address: '127.0.0.1:0', webConfig: {}, log, routes: {} });
    await expect(startWebServer({ address: `127.0.0.1:${web.port}`, webConfig: {}, log, routes: {} })).rejects.toThrow(/EADDRINUSE/);
    expect(lines.some((l) => /level=info msg=listening address=127\.0\.0\.1:\d+ tls=false basic_auth=false/.test(l))).toBe(true);
    expect(lines.some((l) => /level=warn/.test(l))).toBe(false);
  });
});

describe('exposure warning', () => {
  test.each([
    ['0.0.0.0', false],
    ['::', false],
    ['', false],
    ['192.0.2.10', false],
    ['mail.example.com', false],
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
  ])('%s is loopback: %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  test('beyond loopback without TLS and without basic auth is warned about; with either it is not', () => {
    expect(exposureWarning('0.0.0.0', {})).toMatch(/beyond loopback without TLS or basic auth/);
    expect(exposureWarning('::', {})).toBeDefined();
    expect(exposureWarning('127.0.0.1', {})).toBeUndefined();
    expect(exposureWarning('0.0.0.0', { tls: {} })).toBeUndefined();
    expect(exposureWarning('0.0.0.0', { basicAuthUsers: new Map([['p', '$2b$04$x']]) })).toBeUndefined();
  });
});
