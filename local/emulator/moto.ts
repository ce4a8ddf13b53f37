import { spawn } from 'child_process';
import { createWriteStream, existsSync } from 'fs';
import { join } from 'path';
import { stopChild, track } from './processes';
import { LOOPBACK, freePort, waitForHttp } from './net';

/** A running moto server. */
export interface MotoServer {
  /** `http://127.0.0.1:<port>`: what AWS_ENDPOINT_URL points at. */
  readonly endpoint: string;
  readonly port: number;
  /** Forgets every resource moto holds (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** Stops the server process. */
  stop(): Promise<void>;
}

/**
 * Starts moto in server mode on a free port of 127.0.0.1, from the project's venv, logging to `logFile`.
 * It serves every mocked service on the one port; the AWS SDK picks the service from the request.
 */
export async function startMoto(repoRoot: string, logFile: string): Promise<MotoServer> {
  const executable = join(repoRoot, '.venv', 'bin', 'moto_server');
  if (!existsSync(executable)) {
    throw new Error(
      `moto_server not found at ${executable}; run "bash scripts/py-env.sh" to create the venv`,
    );
  }
  const port = await freePort();
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = track(
    spawn(executable, ['-H', LOOPBACK, '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const endpoint = `http://${LOOPBACK}:${port}`;
  await waitForHttp(
    `${endpoint}/moto-api/`,
    `moto_server (log: ${logFile})`,
    60000,
    () => child.exitCode === null,
  );
  return {
    endpoint,
    port,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}`);
    },
    async stop() {
      await stopChild(child);
      log.end();
    },
  };
}
