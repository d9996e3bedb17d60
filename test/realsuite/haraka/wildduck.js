'use strict';
// The harness's stand-in for haraka-plugin-wildduck (Haraka loads it from <dir>/plugins/wildduck.js), doing what
// that plugin does, on a test machine:
// - answers lookup_rdns itself, so no DNS query leaves loopback;
// - gives the replies the test chose (config/realsuite.json "rejects": recipient -> "451 4.3.0 text"),
//   setting txn.notes.rejectCode as haraka-plugin-wildduck does;
// - accepts a recipient of the suite's domain when WildDuck's API resolves it (GET /addresses/resolve/:address),
//   refuses it with 550 5.1.1 NO_SUCH_USER when WildDuck answers 404, and with 451 when WildDuck cannot answer.
const http = require('node:http');
const DSN = require('haraka-dsn');

exports.register = function () {
  this.cfg = this.config.get('realsuite.json', () => this.register());
};

exports.hook_lookup_rdns = function (next) {
  next(OK, 'localhost');
};

function reply(text) {
  const m = /^([245]\d\d)(?:\s+([245])\.(\d{1,3})\.(\d{1,3}))?\s*(.*)$/.exec(text);
  if (!m) return DSN.create(451, text);
  return DSN.create(Number(m[1]), m[5] || undefined, m[3] ? Number(m[3]) : 0, m[4] ? Number(m[4]) : 0);
}

function resolve(cfg, address) {
  return new Promise((done) => {
    const url = `${cfg.api}/addresses/resolve/${encodeURIComponent(address)}`;
    const req = http.get(url, { headers: { 'X-Access-Token': cfg.token }, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done(0));
  });
}

exports.hook_rcpt = function (next, connection, params) {
  const address = `${params[0].user}@${params[0].host}`.toLowerCase();
  const txn = connection.transaction;
  const chosen = (this.cfg.rejects || {})[address];
  if (chosen) {
    const dsn = reply(chosen);
    
    return next(dsn.cls === 5 ? DENY : DENYSOFT, dsn);
  }
  if (params[0].host.toLowerCase() !== this.cfg.domain) return next();
  resolve(this.cfg, address).then((status) => {
    if (status === 200) return next(OK);
    if (status === 404) {
      txn.notes.rejectCode = 'NO_SUCH_USER';
      return next(DENY, DSN.no_such_user());
    }
    txn.notes.rejectCode = 'ERRC01';
    next(DENYSOFT, DSN.create(451, 'recipient check failed, try later', 3, 0));
  });
};

// A bounce would go to the sender's domain through DNS: the failure stays in Haraka's log instead.
exports.hook_bounce = function (next) {
  next(OK);
};
