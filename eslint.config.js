// ESLint flat config. The import rules encode design.md: the core never imports electron,
// the protocol folder is runtime-free, the renderer imports nothing from Node, and dependencies
// point down: nothing below server/ (threads, agent, auth, config, ...) imports server/, and
// nothing below agent/ (protocol, util, transport, threads) imports agent/.
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

const noElectron = {
  name: 'electron',
  message: 'The core runs under plain Node: never import electron here.',
}

// The layers below server/ (protocol <- util <- transport <- threads <- agent <- server). A later
// block's `no-restricted-imports` (or `no-restricted-syntax`) replaces an earlier one for the same
// file, so the blocks below (below agent/, runtime-free) repeat this pattern.
const belowServer = [
  'src/worker/agent/**/*.ts',
  'src/worker/analytics/**/*.ts',
  'src/worker/auth/**/*.ts',
  'src/worker/config/**/*.ts',
  'src/worker/mcp/**/*.ts',
  'src/worker/search/**/*.ts',
  'src/worker/threads/**/*.ts',
  'src/worker/transport/**/*.ts',
  'src/worker/util/**/*.ts',
]
const noServer = {
  regex: '^(\\.\\./)+server(/|$)',
  message:
    'Dependencies point down: this layer must not import server/. Put what it needs in a lower module (e.g. transport/serverRequestApi.ts, transport/requestContext.ts) and let server/ implement it.',
}

// The layers below agent/ (protocol <- util <- transport <- threads). The runtime-free block below
// repeats this pattern for protocol/ and util/retry.ts (its other files import nothing from agent/
// either).
const belowAgent = [
  'src/worker/protocol/**/*.ts',
  'src/worker/threads/**/*.ts',
  'src/worker/transport/**/*.ts',
  'src/worker/util/**/*.ts',
]
const noAgent = {
  regex: '^(\\.\\./)+agent(/|$)',
  message:
    'Dependencies point down: this layer must not import agent/. Move what it needs (a type, a pure function, a validation) into this layer or a lower one (e.g. threads/approvalMode.ts, threads/dynamicToolSpecs.ts) and let agent/ import or re-export it; code that wires threads and agent together belongs in agent/ (e.g. agent/threadSystem.ts).',
}

// `no-restricted-imports` sees static imports only; these catch `import('../agent/x')` too. (esquery
// regexes cannot hold a `/`, hence \u002F.)
const dynamicImportOf = (pattern) => ({
  selector: `ImportExpression[source.value=/${pattern.regex.replaceAll('/', '\\u002F')}/]`,
  message: `${pattern.message} (This holds for a dynamic import() too.)`,
})
const noDynamicServer = dynamicImportOf(noServer)
const noDynamicAgent = dynamicImportOf(noAgent)

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
          paths: [noElectron],
        },
      ],
    },
  },
  {
    files: belowServer,
    rules: {
      'no-restricted-imports': ['error', { paths: [noElectron], patterns: [noServer] }],
      'no-restricted-syntax': ['error', noDynamicServer],
    },
  },
  {
    files: belowAgent,
    rules: {
      'no-restricted-imports': ['error', { paths: [noElectron], patterns: [noServer, noAgent] }],
      'no-restricted-syntax': ['error', noDynamicServer, noDynamicAgent],
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
            noServer,
            noAgent,
          ],
        },
      ],
      'no-restricted-syntax': ['error', noDynamicServer, noDynamicAgent],
    },
  },
)
