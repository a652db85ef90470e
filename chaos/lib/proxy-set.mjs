// @ts-check
// The cluster profile's per-process proxies: one TCP proxy per broker node, driven together, so
// a cut or a stall of a process reaches whichever node it is connected to. Same surface as one
// TcpProxy; `url()` gives the process its list of node URLs (comma-separated, as the workers read it).
import { startTcpProxy } from '../../test-support/tcp-proxy.mjs';

/** @param {readonly string[]} urls the nodes' AMQP URLs */
export async function startProxySet(urls) {
  const proxies = await Promise.all(
    urls.map((url) => {
      const u = new URL(url);
      return startTcpProxy(u.hostname, Number(u.port || 5672));
    }),
  );
  return {
    get port() {
      return proxies[0]?.port ?? 0;
    },
    url: () => proxies.map((p, i) => p.url(/** @type {string} */ (urls[i]))).join(','),
    cut: () => {
      for (const p of proxies) p.cut();
    },
    down: () => {
      for (const p of proxies) p.down();
    },
    restore: () => {
      for (const p of proxies) p.restore();
    },
    stall: () => {
      for (const p of proxies) p.stall();
    },
    resume: () => {
      for (const p of proxies) p.resume();
    },
    get stalled() {
      return proxies.some((p) => p.stalled);
    },
    get openConnections() {
      return proxies.reduce((n, p) => n + p.openConnections, 0);
    },
    close: async () => {
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}
