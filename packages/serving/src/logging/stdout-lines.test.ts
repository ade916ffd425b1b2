import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { promisify } from 'node:util';
import { TurnBuffer } from './stdout-lines';

describe('TurnBuffer: standard output written once per event-loop turn', () => {
  it('writes the lines of a turn as one text, in order, after the turn; the next turn’s in a write of its own', async () => {
    const writes: string[] = [];
    const buffer = new TurnBuffer((text) => writes.push(text));
    buffer.push('a\n');
    buffer.push('b\n');
    buffer.push('c\n');
    expect(writes).toEqual([]);
    await turn();
    expect(writes).toEqual(['a\nb\nc\n']);
    buffer.push('d\n');
    await turn();
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
    buffer.flush(); // nothing pending: no empty write
    expect(writes).toHaveLength(2);
  });

  it('loses no line when the process exits right after logging (process.exit included) or ends on its own', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stdout-lines-'));
    const script = path.join(dir, 'exit.ts');
    const logger = JSON.stringify(path.resolve(__dirname, 'logger'));
    try {
      for (const ending of ['process.exit(3);', '']) {
        await writeFile(script, `import { createLogger } from ${logger};\nconst log = createLogger({ service: 's' });\nfor (let i = 0; i < 3; i++) log.info('line ' + i);\n${ending}\n`);
        const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(__dirname, '../..'), timeout: 20_000 }).then(
          (r) => ({ code: 0, stdout: r.stdout }),
          (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
        );
        expect(result.code).toBe(ending === '' ? 0 : 3);
        expect(result.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['line 0', 'line 1', 'line 2']);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
