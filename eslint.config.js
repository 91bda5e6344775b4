// typescript-eslint with type-aware rules over everything TypeScript in the repository, run by
// `npm run lint` (part of `npm test`). Formatting is Prettier's (.prettierrc.json): no rule here is
// about layout.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.scratch/', 'test/gql/', 'examples/gql/', '.stryker-tmp/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A `_` name says "deliberately unused" (a destructured-away property, a required parameter).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Async functions that implement a promise-returning interface without awaiting (the memory
      // store, test fakes) are deliberate: a throw becomes a rejection, as callers expect.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // yoga and envelop hand plugin hooks functions (endResponse, setResult, …) in a payload that
    // is meant to be destructured; they do not use `this`.
    files: ['src/plugins/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  {
    // vitest's asymmetric matchers (expect.anything(), expect.objectContaining(…)) are typed `any`.
    files: ['test/**/*.ts', 'src/**/*.test.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
