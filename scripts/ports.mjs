// Local ports for the servers the dev script and the tests start, chosen so that nothing else
// can take them in the moment between choosing and listening.
//
// Why not "listen on 0, close, hand the number on": that number is from the kernel's ephemeral
// range, the same range every outgoing connection takes its local port from. A readiness probe
// that connects to 127.0.0.1:P before anything listens there can be given P as its own local
// port, and then TCP connects the socket to itself (a "self-connect"): the probe thinks the
// server is up, and the server's bind of P fails with EADDRINUSE. Seen in CI as wrangler's
// "Address already in use". A port below the ephemeral range is never given to an outgoing
// connection, so neither can happen; `acceptsConnections` also refuses a self-connected socket,
// for a port a person chose inside the range.
import { readFileSync } from "node:fs";
import { connect, createServer } from "node:net";

/** The kernel's ephemeral range (Linux); the usual default where it cannot be read. */
function ephemeralRange() {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low > 1024) return { low, high };
  } catch {
    // not Linux
  }
  return { low: 32768, high: 60999 };
}

/** Whether 127.0.0.1:port can be listened on now (bound, then released). */
function canListen(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A free 127.0.0.1 port below the ephemeral range, for a server started afterwards: outgoing
 * connections never take it, so it stays free until that server listens.
 */
export async function freeListenPort() {
  const { low } = ephemeralRange();
  const floor = Math.min(10_000, low - 1);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between ${floor} and ${low} after 200 tries`);
}

/**
 * Whether something listens on 127.0.0.1:port: true only for a real listener. A socket the
 * kernel connected to itself (its local port is the port asked for) is released at once and
 * counts as nothing listening.
 */
export function acceptsConnections(port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (up) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(socket.localPort !== port));
    socket.once("error", () => done(false));
  });
}
