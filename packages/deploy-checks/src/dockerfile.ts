/** One instruction of a Dockerfile: `RUN`, `COPY`, … with its arguments (continuation lines joined). */
export interface Instruction {
  instruction: string;
  args: string;
  /** The stage it belongs to (`FROM … AS name`; the index for an unnamed stage). */
  stage: string;
}

/** Parses a Dockerfile into instructions: comments and the parser directive dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (pending !== '' && trimmed.startsWith('#')) continue;
    if (trimmed.endsWith('\\')) {
      pending += `${trimmed.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(pending + trimmed);
    pending = '';
  }
  const out: Instruction[] = [];
  let stage = '';
  let stages = 0;
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line);
    if (!match?.[1]) continue;
    const instruction = match[1].toUpperCase();
    const args = match[2] ?? '';
    if (instruction === 'FROM') stage = /\sAS\s+(\S+)$/i.exec(args)?.[1] ?? String(stages);
    if (instruction === 'FROM') stages++;
    out.push({ instruction, args, stage });
  }
  return out;
}
