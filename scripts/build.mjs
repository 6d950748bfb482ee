// Compiles apps/, libs/, tools/ and bench/ to dist/ with SWC (decorator metadata kept); type checking is `npm run check`.
// Files under an `assets/` folder (browser scripts, stylesheets) are served as they are: copied, not compiled.
import { spawnSync } from 'node:child_process';
import { cpSync, globSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
const result = spawnSync(
  process.execPath,
  [
    'node_modules/@swc/cli/bin/swc.js',
    'apps',
    'libs',
    // Run from a checkout only (the evaluation harness, the Kafka replay); the service image does not copy them.
    'tools',
    'bench',
    // The benchmarks start the same mock Kafka the tests do.
    'test/support/kafka-mock.ts',
    'test/support/processes.ts',
    '-d',
    'dist',
    '--copy-files',
    '--ignore',
    '**/*.spec.ts',
    '--ignore',
    '**/assets/**',
    '--quiet',
  ],
  { stdio: 'inherit' },
);
if (result.status !== 0) process.exit(result.status ?? 1);
for (const dir of globSync('apps/*/src/**/assets')) cpSync(dir, `dist/${dir}`, { recursive: true });
