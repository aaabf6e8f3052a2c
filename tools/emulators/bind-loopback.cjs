'use strict';
// Preloaded (`node --require ./bind-loopback.cjs ...`) by scripts/emulators.sh.
//
// kinesis-local and the fauxqs CLI always listen on every interface (0.0.0.0 /
// ::) and offer no setting to change that. This hook rewrites a wildcard or
// missing listen host to EMULATOR_BIND_HOST (default 127.0.0.1), so the local
// emulators are reachable from this machine only. Unix sockets and explicit
// hosts are left alone.
const net = require('node:net');

const bindHost = process.env.EMULATOR_BIND_HOST || '127.0.0.1';
const wildcard = (h) => h === undefined || h === null || h === '' || h === '0.0.0.0' || h === '::';
const isPort = (v) => typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v));

const originalListen = net.Server.prototype.listen;

net.Server.prototype.listen = function listen(...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object' && !Array.isArray(first) &&
      first.path === undefined && first.fd === undefined && first.handle === undefined &&
      '_handle' in first === false) {
    // listen(options[, cb])
    if (first.port !== undefined && wildcard(first.host)) {
      args[0] = { ...first, host: bindHost, ipv6Only: false };
    }
  } else if (isPort(first)) {
    // listen(port[, host][, backlog][, cb])
    if (typeof args[1] === 'string') {
      if (wildcard(args[1])) args[1] = bindHost;
    } else {
      args.splice(1, 0, bindHost);
    }
  }
  return originalListen.apply(this, args);
};
