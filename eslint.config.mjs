// Type-aware lint: the promise and exhaustiveness rules matter most in a proxy that must fail closed.
// Plus the module boundaries (`stepgate/boundaries`): apps never import other apps, libs never import apps.
import { dirname, relative, resolve, sep } from 'node:path';
import tseslint from 'typescript-eslint';

const ROOT = import.meta.dirname;

/** `{ kind: 'apps' | 'libs', name }` for a path inside apps/<name>/ or libs/<name>/, else null. */
function zoneOf(path) {
  const [kind, name] = relative(ROOT, path).split(sep);
  return (kind === 'apps' || kind === 'libs') && name ? { kind, name } : null;
}

/**
 * Apps share code only through libs, so each app can be built, deployed and reasoned about alone. The import
 * is resolved against the importing file: a relative path reaches another app as '../../../risk/src/x' as
 * well as by any alias. apps/stepgate, the embedded launcher that starts every app in one process, is the
 * one app allowed to import the others (adr/0002); test/, bench/ and scripts/ are outside the rule.
 */
const boundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'apps never import other apps; libs never import apps' },
    schema: [],
    messages: {
      appToApp:
        "apps/{{from}} must not import apps/{{to}} ('{{source}}'): apps share code through a lib under libs/",
      libToApp: "libs/{{from}} must not import apps/{{to}} ('{{source}}'): a lib depends on libs only",
    },
  },
  create(context) {
    const from = zoneOf(context.filename);
    if (!from || (from.kind === 'apps' && from.name === 'stepgate')) return {};
    const check = (node) => {
      const source =
        node?.type === 'Literal' && typeof node.value === 'string'
          ? node.value
          : node?.type === 'TemplateLiteral' && node.expressions.length === 0
            ? node.quasis[0].value.cooked
            : null;
      if (source === null) return;
      // Bare specifiers are packages or @stepgate/<lib> aliases; no alias names an app.
      const target = source.startsWith('.')
        ? zoneOf(resolve(dirname(context.filename), source))
        : source.startsWith('apps/')
          ? zoneOf(resolve(ROOT, source))
          : null;
      if (target?.kind !== 'apps' || (from.kind === 'apps' && target.name === from.name)) return;
      context.report({
        node,
        messageId: from.kind === 'apps' ? 'appToApp' : 'libToApp',
        data: { from: from.name, to: target.name, source },
      });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
      TSImportEqualsDeclaration: (node) =>
        node.moduleReference.type === 'TSExternalModuleReference' && check(node.moduleReference.expression),
      CallExpression: (node) =>
        node.callee.type === 'Identifier' && node.callee.name === 'require' && check(node.arguments[0]),
    };
  },
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'data/**',
      'bench/results/**',
      'test-artifacts/**',
      '**/*.mjs',
      '**/*.js',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    plugins: { stepgate: { rules: { boundaries } } },
    rules: { 'stepgate/boundaries': 'error' },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
