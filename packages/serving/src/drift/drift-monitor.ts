import type { DriftReference } from './drift-reference';
import { psi } from './drift-reference';

export interface DriftSettings {
  /** Served rows the sliding window holds (the newest). */
  windowRows: number;
  /** A feature whose PSI is above this is drifting (model_drift_detected = 1). */
  threshold: number;
  /** No PSI is reported until the window holds this many rows. */
  minRows: number;
}

export interface DriftSnapshot {
  rows: number;
  /** PSI by feature name; empty until the window holds minRows rows. */
  psi: Map<string, number>;
  detected: boolean;
}

/**
 * Compares a sliding window of served rows with a card's training reference, per feature, by PSI. Each row
 * costs one binary search per monitored column and counter updates (no allocation): the window keeps each row's
 * bin per feature in a ring, and the per-bin counts move as rows enter and leave. PSI is computed at scrape
 * time from the counts.
 */
export class DriftMonitor {
  private readonly bins: Uint16Array;
  private readonly counts: Uint32Array[];
  private readonly expected: number[][];
  private next = 0;
  private filled = 0;
  /** The snapshot last computed, dropped when rows are observed: both drift gauges of a scrape read one computation. */
  private last: DriftSnapshot | undefined;

  constructor(
    private readonly reference: DriftReference,
    private readonly settings: DriftSettings,
  ) {
    this.bins = new Uint16Array(settings.windowRows * reference.features.length);
    // Bins 0..edges.length are the value bins; edges.length + 1 is "missing".
    this.counts = reference.features.map((f) => new Uint32Array(f.edges.length + 2));
    this.expected = reference.features.map((f) => [...f.proportions, f.missing]);
  }

  /** Adds `n` rows of `size` values each (one model input buffer, row-major). */
  observe(rows: ArrayLike<number>, n: number, size: number): void {
    const features = this.reference.features;
    const width = features.length;
    for (let r = 0; r < n; r++) {
      const slot = this.next * width;
      const full = this.filled === this.settings.windowRows;
      for (let k = 0; k < width; k++) {
        const f = features[k] as DriftReference['features'][number];
        const counts = this.counts[k] as Uint32Array;
        if (full) (counts[this.bins[slot + k] as number] as number)--;
        const bin = binOf(f.edges, Number(rows[r * size + f.index]));
        this.bins[slot + k] = bin;
        (counts[bin] as number)++;
      }
      this.next = (this.next + 1) % this.settings.windowRows;
      if (!full) this.filled++;
    }
    this.last = undefined;
  }

  /** PSI per feature over the window; recomputed only when rows were observed since the last call. */
  snapshot(): DriftSnapshot {
    return (this.last ??= this.compute());
  }

  private compute(): DriftSnapshot {
    const out = new Map<string, number>();
    if (this.filled >= Math.min(this.settings.minRows, this.settings.windowRows)) {
      this.reference.features.forEach((f, k) => {
        const counts = this.counts[k] as Uint32Array;
        out.set(f.name, psi(this.expected[k] as number[], Array.from(counts, (c) => c / this.filled)));
      });
    }
    return { rows: this.filled, psi: out, detected: [...out.values()].some((v) => v > this.settings.threshold) };
  }
}

/** Bin of `value`: the number of edges at or below it (bins [e_i, e_i+1)); NaN is the missing bin after the last. */
function binOf(edges: readonly number[], value: number): number {
  if (Number.isNaN(value)) return edges.length + 1;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value >= (edges[mid] as number)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
