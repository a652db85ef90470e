/**
 * A TCP proxy on 127.0.0.1 between the code under test and a real service, so tests can
 * cut connections (like a network failure), refuse new ones (service down) or stall
 * traffic (a hung peer) — without touching the service other tests share.
 */
export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  port: number;
  /** Replaces host:port in a URL with the proxy's address. */
  url(target: string): string;
  /** Destroys every open connection; new ones are still accepted. */
  cut(): void;
  /** Destroys every connection and refuses new ones until `restore()`. */
  down(): void;
  restore(): void;
  /** Stops forwarding bytes in both directions (connections stay open) until `resume()`. */
  stall(): void;
  resume(): void;
  /** True between `stall()` and `resume()`. */
  readonly stalled: boolean;
  /** Connections currently open through the proxy. */
  readonly openConnections: number;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (a free port) forwarding to `targetHost:targetPort`. */
export function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy>;
