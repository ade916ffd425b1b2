import { stringify } from 'yaml';

/** A generated YAML file: a header saying where it comes from, then the documents. */
export function yamlFile(header: string, ...documents: unknown[]): string {
  const comment = header
    .trim()
    .split('\n')
    .map((line) => `# ${line}`.trimEnd())
    .join('\n');
  const body = documents.map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
  return `${comment}\n${body}`;
}

export const GENERATED = (what: string) =>
  `${what}\nGenerated from infra/services.json by \`pnpm --filter @predict/deploy-checks generate\`: edit the registry\nor packages/deploy-checks/src, then regenerate (a test fails while this file and the generator disagree).`;
