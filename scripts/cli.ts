/**
 * Sets the exit code of an operator command from its `main`'s promise: the code it resolves to, or 1 after one
 * paragraph naming the command, the error and `hint` (what to check) when it rejects with an error it did not
 * explain itself.
 */
export function exitWith(command: string, run: Promise<number>, hint: string): void {
  run.then(
    (code) => (process.exitCode = code),
    (error: Error) => {
      console.error(`${command} failed: ${error.name}: ${error.message}\n${hint}`);
      process.exitCode = 1;
    },
  );
}
