import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FRONTEND, PACKAGE_NAME, VERSION } from '../src/version';

describe('version', () => {
  it("matches package.json (the one source, also Python's)", () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8')
    ) as { name: string; version: string };
    expect(PACKAGE_NAME).toBe(pkg.name);
    expect(VERSION).toBe(pkg.version);
    expect(FRONTEND).toBe(`${pkg.name} ${pkg.version}`);
  });
});
