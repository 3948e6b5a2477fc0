// scripts/ports.mjs: the ports the dev script and the tests hand to servers they start, and the
// probe that says whether one listens yet. The hazard they avoid is shown for real first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { acceptsConnections, freeListenPort } from "../../scripts/ports.mjs";

const [ephemeralLow] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);

test("a connection to a port nothing listens on can connect to itself: a probe's false 'up'", async () => {
  const port = await freeListenPort();
  // The kernel picks a probe's local port; here it is fixed to show what happens when it
  // picks the port asked for: TCP's simultaneous open connects the socket to itself, and a
  // probe that only waits for "connect" reports a server where there is none.
  const socket = connect({ host: "127.0.0.1", port, localAddress: "127.0.0.1", localPort: port });
  try {
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    assert.equal(socket.remotePort, socket.localPort, "connected to itself");
  } finally {
    socket.destroy();
  }
});

test("freeListenPort: below the ephemeral range, so no outgoing connection is given it", async () => {
  for (let i = 0; i < 20; i++) {
    const port = await freeListenPort();
    assert.ok(port >= 1024 && port < ephemeralLow, `${port} is not below ${ephemeralLow}`);
  }
});

test("acceptsConnections: true for a listener, false where nothing listens", async () => {
  const port = await freeListenPort();
  assert.equal(await acceptsConnections(port), false);
  const server = createServer((socket) => socket.destroy());
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  try {
    assert.equal(await acceptsConnections(port), true);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  assert.equal(await acceptsConnections(port), false);
});
