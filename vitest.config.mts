import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const alias = {
  // Before the library itself: a prefix alias would otherwise read the subpath as a file under index.ts.
  '@stepgate/risk-scoring/testing': resolve(import.meta.dirname, 'libs/risk-scoring/src/testing.ts'),
  ...Object.fromEntries(
    [
      'contracts',
      'kafka',
      'config',
      'database',
      'observability',
      'identity',
      'html',
      'policy',
      'net',
      'risk-scoring',
      'redirect',
    ].map((lib) => [`@stepgate/${lib}`, resolve(import.meta.dirname, `libs/${lib}/src/index.ts`)]),
  ),
};

export default defineConfig({
  // SWC keeps decorator metadata, which Nest's dependency injection needs; ES modules for Vitest.
  plugins: [
    swc.vite({
      swcrc: false,
      module: { type: 'es6' },
      jsc: {
        target: 'es2023',
        transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      },
    }),
  ],
  resolve: { alias },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts', 'tools/**/*.spec.ts', 'eslint.config.spec.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.spec.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
