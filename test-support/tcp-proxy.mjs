import net from 'node:net';

/**
 * The implementation behind tcp-proxy.d.mts, in plain JavaScript so that the tests (TypeScript)
 * and the chaos suite (plain Node) share one proxy.
 * @param {string} targetHost
 * @param {number} targetPort
 */
export async function startTcpProxy(targetHost, targetPort) {
  /** @type {Set<{ client: net.Socket; upstream: net.Socket }>} */
  const pairs = new Set();
  let refusing = false;
  let stalled = false;

  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    const pair = { client, upstream };
    pairs.add(pair);
    /** @param {net.Socket} from @param {net.Socket} to */
    const forward = (from, to) => {
      from.on('data', (chunk) => {
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => {
        if (!stalled) from.resume();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    if (stalled) {
      client.pause();
      upstream.pause();
    }
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = /** @type {net.AddressInfo} */ (server.address()).port;

  const destroyAll = () => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  return {
    port,
    url(target) {
      const u = new URL(target);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut: destroyAll,
    down() {
      refusing = true;
      destroyAll();
    },
    restore() {
      refusing = false;
    },
    stall() {
      stalled = true;
      for (const { client, upstream } of pairs) {
        client.pause();
        upstream.pause();
      }
    },
    resume() {
      stalled = false;
      for (const { client, upstream } of pairs) {
        client.resume();
        upstream.resume();
      }
    },
    get stalled() {
      return stalled;
    },
    get openConnections() {
      return pairs.size;
    },
    async close() {
      destroyAll();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}
