import { createServer } from 'net';

/**
 * The one address every server local mode starts listens on: local mode has no authentication, so nothing it
 * starts may be reachable from another machine.
 */
export const LOOPBACK = '127.0.0.1';

/** A TCP port on {@link LOOPBACK} that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers with a 2xx status, or throws after `timeoutMs` naming what did not come up. */
export async function waitForHttp(
  url: string,
  what: string,
  timeoutMs: number,
  isAlive?: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (isAlive && !isAlive()) throw new Error(`${what} exited before it answered on ${url}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
      lastError = `HTTP ${response.status}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `${what} did not answer on ${url} within ${Math.round(timeoutMs / 1000)} s (last: ${lastError})`,
  );
}
