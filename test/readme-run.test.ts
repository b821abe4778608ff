/**
 * The README's opening section keeps its promise — one command installs and starts
 * (`npm install && npm start`), one runs the tests (`npm test`) — and says, right there, how to
 * run `dualdb <command>` from the clone. Operator: after `npm install` in a clone nothing put
 * `dualdb` on the PATH and the README named no other way. The ways it names must exist in
 * package.json and run the CLI the package installs as `dualdb`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

/** The README from its "## Two commands" heading to the next heading. */
function twoCommandsSection(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Two commands');
  expect(start, 'README has a "## Two commands" section').toBeGreaterThan(0);
  const rest = readme.slice(start + 1);
  const end = rest.slice(3).search(/\n#{2,3} /);
  return end < 0 ? rest : rest.slice(0, end + 3);
}

describe('README: installing and running from a clone', () => {
  it('the opening section keeps the two commands and says how to run `dualdb <command>`', () => {
    const section = twoCommandsSection();
    expect(section).toContain('npm install && npm start');
    expect(section).toMatch(/^npm test\b/m);
    const main = pkg.bin.dualdb;
    expect(main).toBe('dist/cli/main.js');
    // Each way it names exists: the npm script, the file the bin points at, and `npm link`.
    expect(section).toContain('npm run dualdb -- ');
    expect(pkg.scripts.dualdb).toBe(`node -- ${main}`);
    expect(section).toContain(`node -- ${main} `);
    expect(section).toContain('npm link');
    // `npm install` builds dist/ (prepare), which every one of them runs.
    expect(pkg.scripts.prepare).toBe('npm run build');
    expect(pkg.scripts.start).toBe(`node -- ${main}`);
  });

  // dist/ exists after `npm install` (prepare builds it); a checkout never installed has none.
  it.skipIf(!existsSync(path.join(ROOT, pkg.bin.dualdb ?? 'dist/cli/main.js')))(
    '`npm run -s dualdb -- <command>` runs the CLI',
    () => {
      const r = spawnSync('npm', ['run', '-s', 'dualdb', '--', '--version'], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    },
  );
});
