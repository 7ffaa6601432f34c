import { defineConfig } from 'vitest/config';

// Unit tests for the labextension's pure logic; files that need a DOM opt in
// with a `// @vitest-environment jsdom` comment.
export default defineConfig({
  test: {
    include: ['labextension/test/**/*.test.ts'],
    environment: 'node',
    setupFiles: ['labextension/test/setup.ts']
  }
});
