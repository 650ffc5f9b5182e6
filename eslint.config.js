// ESLint flat config. The import rules encode design.md: the core never imports electron,
// the protocol folder is runtime-free, and the renderer imports nothing from Node.
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const nodeBuiltins = [
  'node:*',
  'fs',
  'path',
  'os',
  'child_process',
  'net',
  'http',
  'crypto',
  'worker_threads',
]

export default tseslint.config(
  { ignores: ['out/**', 'node_modules/**', '.cache/**', 'test-results/**', 'playwright-report/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['src/worker/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'The core runs under plain Node: never import electron here.' },
          ],
        },
      ],
    },
  },
  {
    files: [
      'src/worker/protocol/**/*.ts',
      'src/worker/auth/claims.ts',
      'src/worker/util/retry.ts',
      'src/main/portHandoff.ts',
      'src/renderer/**/*.ts',
    ],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['electron', 'ws', 'pino'],
          patterns: [
            { group: nodeBuiltins, message: 'This folder is runtime-free: no Node or Electron imports.' },
          ],
        },
      ],
    },
  },
)
