import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ALERT_RULES, DASHBOARD } from './prometheus-config';

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** The metric names a PromQL expression reads (functions, keywords, labels, strings and ranges left out). */
export function metricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = s.slice((match.index ?? 0) + match[0].length);
    if (/^\s*\(/.test(after) || KEYWORDS.has(match[0])) continue;
    names.add(match[0]);
  }
  return [...names];
}

export interface MonitoringExpression {
  where: string;
  expr: string;
  /** Which kind of service exposes its metrics: the rule group `workers` and panels titled `Jobs: …` are the worker's. */
  kind: 'prediction' | 'worker';
}

/** Every expression of the alert rules and of the Grafana dashboard's panels, with where it is. */
export function monitoringExpressions(): MonitoringExpression[] {
  const rules = parse(readFileSync(ALERT_RULES, 'utf8')) as { groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[] };
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
  return [
    ...rules.groups.flatMap((g) =>
      g.rules.map((r) => ({ where: `alert ${r.alert ?? r.record}`, expr: r.expr, kind: g.name === 'workers' ? ('worker' as const) : ('prediction' as const) })),
    ),
    ...dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `panel '${p.title}'`, expr: t.expr, kind: p.title.startsWith('Jobs: ') ? ('worker' as const) : ('prediction' as const) })),
    ),
  ];
}

/** Metric families a /metrics text exposes, with the series names a histogram or summary adds. */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

/** Requests a replica has answered with 200 on `route` (a route template), from its /metrics text. */
export function answered(metricsText: string, route: string): number {
  let total = 0;
  for (const m of metricsText.matchAll(/^http_requests_total\{([^}]*)\} (\d+)/gm)) {
    if (m[1]!.includes(`route="${route}"`) && m[1]!.includes('status="200"')) total += Number(m[2]);
  }
  return total;
}
