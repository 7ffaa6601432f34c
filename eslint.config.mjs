// ESLint flat config for the labextension (TypeScript, type-aware rules).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

// User data (run names, params, tags, notebook cells) must never reach the DOM as HTML:
// everything goes through textContent, so these sinks are banned outright.
const noHtmlSinks = [
  {
    selector: "AssignmentExpression[left.property.name='innerHTML']",
    message: 'Set textContent (user data must never be parsed as HTML).'
  },
  {
    selector: "AssignmentExpression[left.property.name='outerHTML']",
    message: 'Build elements with document.createElement instead.'
  },
  {
    selector: "CallExpression[callee.property.name='insertAdjacentHTML']",
    message: 'Build elements with document.createElement instead.'
  }
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      'labextension/lib/**',
      'src/**',
      'tests/**',
      'bench/**',
      'notebooks/**'
    ]
  },
  {
    files: ['labextension/**/*.ts'],
    extends: [
      js.configs.recommended,
      ...tseslint.configs.recommendedTypeChecked
    ],
    languageOptions: {
      parserOptions: {
        project: './tsconfig.test.json',
        tsconfigRootDir: import.meta.dirname
      }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: { regex: '^I[A-Z]', match: true }
        }
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      // Lumino's signal.connect(this._handler, this) passes `this` explicitly.
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      curly: ['error', 'all'],
      eqeqeq: ['error', 'smart'],
      'no-restricted-syntax': ['error', ...noHtmlSinks]
    }
  },
  prettier
);
