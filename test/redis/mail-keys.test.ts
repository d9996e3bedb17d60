/** WildDuck key names and the lim:imap hash, on literal values in the shapes WildDuck writes them. */
import { classifyKey, sumImapConnections } from '../../exporters/redis/mail-keys';

describe('classifyKey', () => {
  test.each([
    ['auth_user:6510f1c2a0b1c2d3e4f5a6b7', { auth: 'password' }], // lib/user-handler.js rateLimitUser(userData._id)
    ['auth_user:johndoe', { auth: 'password' }], // failed logins for a name that has no account (unameview)
    ['auth_user:totp:6510f1c2a0b1c2d3e4f5a6b7', { auth: 'totp' }], // checkTotp: rateLimit(`totp:${user}`)
    ['rl:rcpt:6510f1c2a0b1c2d3e4f5a6b7', { family: 'rl:rcpt' }], // haraka-plugin-wildduck checkRateLimit('rcpt')
    ['rl:rcptIp:192.0.2.7:6510f1c2a0b1c2d3e4f5a6b7', { family: 'rl:rcptIp' }],
    ['wdr:6510f1c2a0b1c2d3e4f5a6b7', { family: 'wdr' }],
    ['wdf:6510f1c2a0b1c2d3e4f5a6b8', { family: 'wdf' }],
    ['lim:imap', undefined],
    ['auth_ip:192.0.2.7', undefined],
    ['rl-wl', undefined],
    ['bull:tasks:12', undefined],
    ['wdrx:1', undefined],
  ])('%s', (key, expected) => {
    expect(classifyKey(key)).toEqual(expected);
  });
});

describe('sumImapConnections', () => {
  test('sums user fields and skips the limiter version and junk', () => {
    // limitedcounter.lua: HSET key _version <clientVersion ms>; HINCRBY key <user id> 1
    const hash = {
      _version: '1795440519123',
      '6510f1c2a0b1c2d3e4f5a6b7': '3',
      '6510f1c2a0b1c2d3e4f5a6b8': '1',
      '6510f1c2a0b1c2d3e4f5a6b9': '0', // released to zero
      '6510f1c2a0b1c2d3e4f5a6ba': 'garbage',
    };
    expect(sumImapConnections(hash)).toEqual({ connections: 4, users: 2, maxPerUser: 3 });
  });

  test('an absent hash (HGETALL {}) is zero connections', () => {
    expect(sumImapConnections({})).toEqual({ connections: 0, users: 0, maxPerUser: 0 });
  });
});
