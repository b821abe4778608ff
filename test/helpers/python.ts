/**
 * The Python side of the tests: a virtual environment in `.venv-test/` (gitignored) with
 * SQLAlchemy, made once with `python3 -m venv` and pip (`.ci/run` makes it before `npm test`)
 * and reused after. Where Python is missing the tests that need it are skipped loudly, except
 * under CI=true, where that is a failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PYTHON_DIR = path.join(ROOT, 'test/python');
const VENV = path.join(ROOT, '.venv-test');
const VENV_PYTHON = path.join(VENV, 'bin', 'python');

const ok = (cmd: string, args: string[], timeout = 20_000) => spawnSync(cmd, args, { encoding: 'utf8', timeout }).status === 0;

function findVenvPython(): { python: string } | { missing: string } {
  if (existsSync(VENV_PYTHON) && ok(VENV_PYTHON, ['-c', 'import sqlalchemy'])) return { python: VENV_PYTHON };
  if (!ok('python3', ['--version'])) return { missing: 'no python3 on PATH' };
  if (!existsSync(VENV_PYTHON) && !ok('python3', ['-m', 'venv', VENV], 120_000))
    return { missing: `python3 -m venv ${VENV} failed (install python3-venv)` };
  const pip = spawnSync(VENV_PYTHON, ['-m', 'pip', 'install', '-q', '--retries', '0', 'SQLAlchemy'], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (pip.status !== 0 || !ok(VENV_PYTHON, ['-c', 'import sqlalchemy']))
    return { missing: `pip could not install SQLAlchemy into ${VENV}: ${(pip.stderr ?? '').trim().split('\n').at(-1) ?? ''}` };
  return { python: VENV_PYTHON };
}

const found = findVenvPython();
/** The venv's interpreter, or undefined when Python tests cannot run here (already announced). */
export const PYTHON: string | undefined = 'python' in found ? found.python : undefined;

if ('missing' in found) {
  const msg = `\n*** PYTHON TESTS SKIPPED: ${found.missing}. Install python3 and python3-venv (pip must reach SQLAlchemy). ***\n`;
  if (process.env.CI === 'true') throw new Error(msg);
  process.stderr.write(msg);
}

/** Runs a script of test/python with the venv's interpreter; resolves with its stdout parsed as JSON. */
export function runPython<T>(script: string, args: string[], options: { timeoutMs?: number } = {}): Promise<T> {
  if (!PYTHON) throw new Error('Python is not available');
  const child = spawn(PYTHON, [path.join(PYTHON_DIR, script), ...args], {
    cwd: PYTHON_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONDONTWRITEBYTECODE: '1' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += String(d);
  });
  child.stderr.on('data', (d) => {
    err += String(d);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0)
        reject(new Error(`${script} ${args[0] ?? ''} exited ${code}: ${err.trim().split('\n').slice(-5).join('\n')}`));
      else {
        try {
          resolve(JSON.parse(out) as T);
        } catch {
          reject(new Error(`${script} printed no JSON: ${out.slice(0, 200)} ${err.slice(-500)}`));
        }
      }
    });
  });
}
