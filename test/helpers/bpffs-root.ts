// Where the tests pin: one directory per topology below it (netns.ts). In a
// module of its own so that the run's global setup (test/global-setup.ts) can
// name it without loading the test helpers.
export const BPFFS_TEST_ROOT = '/sys/fs/bpf/xdpnet-test';
