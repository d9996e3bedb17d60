/**
 * WildDuckClient against a plain node:http server that records what it receives: the token header, a path
 * prefix kept, keep-alive reuse, and which failures are retried. (Answer shapes are WildDuck's; the full
 * fake API is in fake-wildduck.ts.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WildDuckApiError, WildDuckClient } from '../../exporters/wildduck/client';

interface Seen {
  url: string;
  token?: string;
  socket: number;
}

let server: http.Server;
let base: string;
let seen: Seen[];
let answers: Array<{ status: number; body: string }>;
let sockets = 0;

const page = (total: number) => JSON.stringify({ success: true, query: '', total, page: 1, previousCursor: false, nextCursor: false, results: [] }, null, 2) + '\n';

beforeEach(async () => {
  seen = [];
  answers = [];
  sockets = 0;
  server = http.createServer((req, res) => {
    const socket = (req.socket as unknown as { n?: number }).n ?? ((req.socket as unknown as { n?: number }).n = ++sockets);
    seen.push({ url: req.url ?? '', token: req.headers['x-access-token'] as string | undefined, socket });
    const answer = answers.shift() ?? { status: 200, body: page(1) };
    res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const signal = new AbortController().signal;

test('sends the token in X-Access-Token, keeps a path prefix and reuses its connections', async () => {
  const client = new WildDuckClient({ url: `${base}/wildduck/`, token: 'sekrit-token', timeoutMs: 2000, retries: 0 });
  for (let i = 0; i < 10; i++) await client.getListing('/users?limit=1', signal);
  await client.close();
  expect(seen.map((s) => s.url)).toEqual(Array(10).fill('/wildduck/users?limit=1'));
  expect(seen.every((s) => s.token === 'sekrit-token')).toBe(true);
  // Keep-alive: the pool holds at most two connections, whatever the number of requests.
  expect(new Set(seen.map((s) => s.socket)).size).toBeLessThanOrEqual(2);
});

test('sends no token header when there is none', async () => {
  const client = new WildDuckClient({ url: base, token: '', timeoutMs: 2000, retries: 0 });
  await client.getListing('/addresses?limit=1', signal);
  await client.close();
  expect(seen[0].token).toBeUndefined();
});

test('retries 5xx and 429 with backoff, then succeeds', async () => {
  const retried: string[] = [];
  const client = new WildDuckClient({ url: base, token: '', timeoutMs: 2000, retries: 3, backoffMs: 10, onRetry: (e) => retried.push(e.message) });
  answers = [
    { status: 500, body: JSON.stringify({ error: 'MongoDB Error: x', code: 'InternalDatabaseError' }) },
    { status: 429, body: '{}' },
  ];
  await expect(client.getListing('/users?limit=250&next=abc', signal)).resolves.toMatchObject({ total: 1 });
  await client.close();
  expect(seen).toHaveLength(3);
  expect(retried).toEqual(['/users: HTTP 500 InternalDatabaseError (MongoDB Error: x)', '/users: HTTP 429']);
});

test.each([
  ['400 InputValidationError', 400, JSON.stringify({ error: '"limit" must be less than or equal to 250', code: 'InputValidationError', details: {} }), 'http_error'],
  ['403 InvalidToken', 403, JSON.stringify({ code: 'InvalidToken', message: 'Invalid accessToken value' }), 'token_rejected'],
  ['200 that is not JSON', 200, '<html>proxy login</html>', 'bad_response'],
])('does not retry %s', async (_what, status, body, reason) => {
  const client = new WildDuckClient({ url: base, token: 'sekrit-token', timeoutMs: 2000, retries: 3, backoffMs: 10 });
  answers = [{ status, body }];
  const err = (await client.getListing('/users?limit=251', signal).catch((e: unknown) => e)) as WildDuckApiError;
  await client.close();
  expect(err).toBeInstanceOf(WildDuckApiError);
  expect(err.reason).toBe(reason);
  expect(err.message).not.toContain('sekrit-token');
  expect(seen).toHaveLength(1);
});

test('gives up after the retries with the last reason', async () => {
  const client = new WildDuckClient({ url: base, token: '', timeoutMs: 2000, retries: 2, backoffMs: 5 });
  answers = Array(5).fill({ status: 503, body: 'busy' });
  await expect(client.getListing('/users?limit=1', signal)).rejects.toMatchObject({ reason: 'http_error', status: 503 });
  await client.close();
  expect(seen).toHaveLength(3);
});
