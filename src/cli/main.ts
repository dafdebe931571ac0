// Entry point of `xdpnet` (bin/xdpnet runs the built copy of this file).

import { run } from './program.js';
import type { Io } from './session.js';

const io: Io = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onInterrupt(stop) {
    // Ctrl-C (and systemd/timeout's SIGTERM) end a watch cleanly instead of killing it mid-line.
    const handler = (): void => stop();
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  },
};

// exitCode, not exit(): lets stdout drain when it is a pipe to a slow reader.
process.exitCode = await run(process.argv.slice(2), io);
