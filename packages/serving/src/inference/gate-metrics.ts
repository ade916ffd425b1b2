/**
 * The metrics a model card may name as its promotion gate (`gate: {metric, direction, prediction}`), scored
 * in TypeScript on an evaluation set from the served outputs, so a candidate and the active version are
 * compared by the code that serves them.
 */
export const GATE_METRICS = {
  /** Root mean squared log error (targets and predictions ≥ 0), as the taxi competition scores. */
  rmsle: (p: number[], y: number[]) => Math.sqrt(mean(p.map((v, i) => (Math.log1p(Math.max(0, v)) - Math.log1p(Math.max(0, y[i] as number))) ** 2))),
  rmse: (p: number[], y: number[]) => Math.sqrt(mean(p.map((v, i) => (v - (y[i] as number)) ** 2))),
  mae: (p: number[], y: number[]) => mean(p.map((v, i) => Math.abs(v - (y[i] as number)))),
  /** Binary log loss of probabilities against 0/1 targets. */
  log_loss: (p: number[], y: number[]) => {
    const eps = 1e-15;
    return mean(p.map((v, i) => {
      const q = Math.min(1 - eps, Math.max(eps, v));
      return y[i] ? -Math.log(q) : -Math.log(1 - q);
    }));
  },
  brier: (p: number[], y: number[]) => mean(p.map((v, i) => (v - (y[i] as number)) ** 2)),
  /** ROC AUC by ranks (ties averaged). */
  roc_auc: (p: number[], y: number[]) => {
    const order = p.map((v, i) => [v, y[i] as number] as const).sort((a, b) => a[0] - b[0]);
    let rankSumPos = 0;
    let pos = 0;
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j < order.length && (order[j] as readonly [number, number])[0] === (order[i] as readonly [number, number])[0]) j++;
      const rank = (i + 1 + j) / 2;
      for (let k = i; k < j; k++) if ((order[k] as readonly [number, number])[1]) {
        rankSumPos += rank;
        pos++;
      }
      i = j;
    }
    const neg = order.length - pos;
    return pos === 0 || neg === 0 ? NaN : (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
  },
  /** Share of predictions equal to the target (labels). */
  accuracy: (p: unknown[], y: unknown[]) => mean(p.map((v, i) => (v === y[i] ? 1 : 0))),
} as const;

export type GateMetric = keyof typeof GATE_METRICS;

function mean(xs: number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Is `candidate` no worse than `active` under `direction`? */
export function noWorse(candidate: number, active: number, direction: 'lower' | 'higher'): boolean {
  return direction === 'lower' ? candidate <= active : candidate >= active;
}
