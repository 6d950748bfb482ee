// The module boundaries as the repository's own lint config enforces them: the config is loaded from this
// directory, and each import is linted as if it were written in a file at the given path.
import { ESLint, type Linter } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const RULE = 'stepgate/boundaries';

describe('the boundaries lint rule', () => {
  let eslint: ESLint;

  beforeAll(() => {
    // Only the boundary rule runs, without type information: the type-aware rules would need each pretend
    // file on disk, in a TypeScript program. The rule's own entry (files, severity) is the config's.
    eslint = new ESLint({
      cwd: __dirname,
      ruleFilter: ({ ruleId }) => ruleId === RULE,
      overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
    });
  });

  const lint = async (filePath: string, code: string): Promise<Linter.LintMessage[]> => {
    const [result] = await eslint.lintText(`${code}\n`, { filePath });
    return result!.messages;
  };

  it('is on, as an error, for apps and libs', async () => {
    for (const file of ['apps/gateway/src/main.ts', 'libs/kafka/src/index.ts']) {
      const config = (await eslint.calculateConfigForFile(file)) as Linter.Config;
      expect(config.rules?.[RULE]).toEqual([2]);
    }
  });

  it.each([
    ['a relative path', "import { loadRiskConfig } from '../../../risk/src/config';"],
    ['a type-only import', "import type { RiskConfig } from '../../../risk/src/config';"],
    ['a re-export', "export { AdminAssertions } from '../../../risk/src/admin/admin-assertion';"],
    ['a re-export of everything', "export * from '../../../risk/src/config';"],
    ['a dynamic import', "export const m = import('../../../risk/src/config.js');"],
    ['a require', "import config = require('../../../risk/src/config');"],
    ['a path from the root', "import { loadRiskConfig } from 'apps/risk/src/config';"],
  ])('fails an app importing another app through %s', async (_how, code) => {
    const messages = await lint('apps/gateway/src/policy/x.ts', code);
    expect(messages).toEqual([
      expect.objectContaining({
        ruleId: RULE,
        severity: 2,
        message: expect.stringMatching(/^apps\/gateway must not import apps\/risk/),
      }),
    ]);
  });

  it('fails a lib importing an app', async () => {
    const messages = await lint(
      'libs/policy/src/x.ts',
      "import { loadGatewayConfig } from '../../../apps/gateway/src/config';",
    );
    expect(messages).toEqual([
      expect.objectContaining({
        ruleId: RULE,
        message: expect.stringMatching(/^libs\/policy must not import apps\/gateway/),
      }),
    ]);
  });

  it('fails a spec beside an app as much as the app', async () => {
    const messages = await lint(
      'apps/challenge/src/x.spec.ts',
      "import { GatewayPolicy } from '../../gateway/src/policy/gateway-policy.service';",
    );
    expect(messages.map((m) => m.ruleId)).toEqual([RULE]);
  });

  it.each([
    [
      'an app importing itself',
      'apps/gateway/src/policy/x.ts',
      "import { compileRoutes } from './route-matcher';\nimport { loadGatewayConfig } from '../config';",
    ],
    [
      'an app importing libs',
      'apps/risk/src/x.ts',
      "import { acrRank } from '@stepgate/policy';\nimport { TOPICS } from '@stepgate/contracts';",
    ],
    ['a lib importing a lib', 'libs/kafka/src/x.ts', "import { TOPICS } from '@stepgate/contracts';"],
    [
      'the embedded launcher importing every app',
      'apps/stepgate/src/x.ts',
      "import { loadRiskConfig } from '../../risk/src/config';\nexport const m = import('../../gateway/src/main.js');",
    ],
    [
      'a test importing apps',
      'test/integration/x.spec.ts',
      "import { loadRiskConfig } from '../../apps/risk/src/config';",
    ],
    [
      'a benchmark importing apps',
      'bench/x.ts',
      "import { loadGatewayConfig } from '../apps/gateway/src/config';",
    ],
  ])('passes %s', async (_name, filePath, code) => {
    expect(await lint(filePath, code)).toEqual([]);
  });
});
