import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Removes what iproute2's loader and the tests leave empty in /sys/fs/bpf.
    globalSetup: ['test/global-setup.ts'],
    // Separate processes, not worker threads: tests load the native addon,
    // change network namespaces' state and kill child processes.
    pool: 'forks',
    // Real kernels, real daemons: namespace set-up and program loads take
    // seconds, not milliseconds. Time limits catch hangs, not slowness.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file prints why it skipped; keep that visible.
    silent: false,
  },
});
