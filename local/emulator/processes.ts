import { ChildProcess } from 'child_process';

/** Child processes local mode started and must stop, whatever way it ends. */
const running = new Set<ChildProcess>();
let hooked = false;

function killAll(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}

/**
 * Registers a child process so it is stopped when local mode ends: normally, on an error, or on Ctrl-C.
 * Children must be spawned `detached: false` (the default) and are killed by their own pid only.
 */
export function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!hooked) {
    hooked = true;
    process.once('exit', () => killAll('SIGKILL'));
  }
  return child;
}

/** Stops one child: SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stops every tracked child (used by the Ctrl-C handler and on failure). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child)));
}
