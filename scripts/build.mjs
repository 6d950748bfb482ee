// Compiles apps/ and libs/ to dist/ with SWC (decorator metadata kept); type checking is `npm run check`.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
const result = spawnSync(
  process.execPath,
  [
    'node_modules/@swc/cli/bin/swc.js',
    'apps',
    'libs',
    'bench',
    // The benchmarks start the same mock Kafka the tests do.
    'test/support/kafka-mock.ts',
    'test/support/processes.ts',
    '-d',
    'dist',
    '--copy-files',
    '--ignore',
    '**/*.spec.ts',
    '--quiet',
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
