import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { HttpError } from '../errors/http-error';
import { ModelLoadError } from '../errors/model-load-error';
import { zodIssues } from '../errors/zod-issues';
import { GATE_METRICS, noWorse, type GateMetric } from './gate-metrics';
import { ModelRepository } from './model-repository';
import { ModelState, newestCandidate, servingVersion, type HistoryEntry } from './model-state';
import type { PredictorDefinition } from './predictor';
import { PredictorRuntime, type RuntimeOptions } from './predictor-runtime';

/** The card's promotion gate: which metric, which way is better, and which output field is the prediction. */
export const gateSchema = z.object({
  metric: z.enum(Object.keys(GATE_METRICS) as [GateMetric, ...GateMetric[]]),
  direction: z.enum(['lower', 'higher']),
  /** Field of the predictor's output scored against each evaluation row's `target`. */
  prediction: z.string().min(1),
});
export type Gate = z.output<typeof gateSchema>;

const evaluationSchema = z.object({ rows: z.array(z.object({ input: z.unknown(), target: z.unknown() })).min(1) });

export interface PromoteRequest {
  /** The candidate; the newest candidate newer than the active version when absent. */
  version?: string | undefined;
  /** Promote even if the gate metric is worse (recorded as forced). */
  force?: boolean | undefined;
  /** Who asks (an API key id, a user name); recorded, never a key. */
  actor: string;
  reason?: string | undefined;
}

export type PromotionOutcome = HistoryEntry;

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, 'utf8'));
}

/**
 * Candidate → promote → rollback over one model directory. A promotion loads the candidate (so a corrupt or
 * mismatched version cannot become active), scores it and the active version on the same evaluation set
 * (the candidate's `evaluation.json`: rows of `{input, target}`) with the card's gate metric, and only if
 * it is no worse (or `force`) points `active` at it and appends the history. Every replica that shares the
 * directory follows the pointer (PredictorRuntime.watch).
 */
export class ModelPromoter<I, O, A, P> {
  readonly repository: ModelRepository;
  readonly state: ModelState;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly definition: PredictorDefinition<I, O, A, P>,
    private readonly options: Omit<RuntimeOptions, 'version'>,
  ) {
    this.repository = new ModelRepository(options.modelDir ?? definition.defaultModelDir);
    this.state = new ModelState(this.repository.root);
  }

  /** One at a time in this process; the pointer's rename keeps concurrent writers from tearing it. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.running.then(work, work);
    this.running = result.catch(() => undefined);
    return result;
  }

  private async gateOf(version: string): Promise<Gate | undefined> {
    const card = (await readJson(path.join(this.repository.dir(version), 'model.json'))) as { gate?: unknown };
    if (card.gate === undefined) return undefined;
    const parsed = gateSchema.safeParse(card.gate);
    if (!parsed.success) throw new ModelLoadError(`the gate of version ${version}'s card is invalid`, zodIssues(parsed.error));
    return parsed.data;
  }

  /**
   * Loads `version` on its own inline runtime — the card, the hashes, the warm-up and the golden vectors are
   * checked, so a broken version throws here — lends it to `use`, then releases it.
   */
  private async withVersion<T>(version: string, use: (runtime: PredictorRuntime<I, O, A, P>) => Promise<T>): Promise<T> {
    const runtime = new PredictorRuntime(this.definition, { ...this.options, version, mode: 'inline', metrics: undefined });
    await runtime.start();
    try {
      return await use(runtime);
    } finally {
      await runtime.stop();
    }
  }

  /** The gate metric's prediction field of `version` for each evaluation row (undefined where refused). */
  private score(version: string, gate: Gate, rows: { input: unknown; target: unknown }[]): Promise<unknown[]> {
    return this.withVersion(version, async (runtime) => {
      const { results } = await runtime.predictChunk(rows.map((r) => r.input));
      return results.map((r) => (r.ok ? (r.output as Record<string, unknown>)[gate.prediction] : undefined));
    });
  }

  promote(request: PromoteRequest): Promise<PromotionOutcome> {
    return this.serial(async () => {
      const active = await servingVersion(this.repository, this.state).catch(() => undefined);
      const target = request.version ?? (await newestCandidate(this.repository, active));
      if (target === undefined) throw new HttpError(409, 'no_candidate', `no candidate version newer than the active version ${active ?? '(none)'}`);
      if (!(await this.repository.versions()).includes(target)) throw new HttpError(404, 'unknown_version', `model version ${target} does not exist`);
      if (target === active) throw new HttpError(409, 'already_active', `model version ${target} is already active`);
      const gate = await this.gateOf(target);
      let scored: HistoryEntry['gate'];
      let activeRows: unknown[] | undefined;
      let evaluation: z.output<typeof evaluationSchema> | undefined;
      try {
        const parsed = evaluationSchema.safeParse(await readJson(path.join(this.repository.dir(target), 'evaluation.json')));
        if (parsed.success) evaluation = parsed.data;
      } catch {
        evaluation = undefined;
      }
      if (gate && evaluation) {
        const candidateRows = await this.score(target, gate, evaluation.rows);
        if (active !== undefined) activeRows = await this.score(active, gate, evaluation.rows);
        // Rows both versions answered (a row one refuses cannot be scored for both).
        const keep = candidateRows.map((v, i) => v !== undefined && (activeRows === undefined || activeRows[i] !== undefined));
        const pick = (values: unknown[]) => values.filter((_, i) => keep[i]) as number[];
        const targets = pick(evaluation.rows.map((r) => r.target));
        const metric = GATE_METRICS[gate.metric] as (p: unknown[], y: unknown[]) => number;
        const candidateScore = metric(pick(candidateRows), targets);
        const activeScore = activeRows ? metric(pick(activeRows), targets) : null;
        scored = { metric: gate.metric, direction: gate.direction, candidate: candidateScore, active: activeScore, rows: targets.length, evaluation_version: target };
      } else {
        // Nothing to score with: the candidate must still load and pass its checks.
        await this.withVersion(target, async () => undefined);
        if (!request.force) {
          throw new HttpError(409, 'promotion_refused', `version ${target} has no ${gate ? 'evaluation.json' : 'gate in its card'} to compare with the active version; promote with force to override`);
        }
      }
      const worse = scored && scored.active !== null && !noWorse(scored.candidate, scored.active, scored.direction);
      if (worse && !request.force) {
        throw new HttpError(409, 'promotion_refused', `version ${target} is worse than active version ${active} on ${scored?.metric} (${scored?.candidate.toFixed(5)} vs ${scored?.active?.toFixed(5)}, ${scored?.direction} is better)`, {
          details: { gate: scored },
        });
      }
      const entry: HistoryEntry = {
        at: new Date().toISOString(),
        action: 'promote',
        from: active ?? null,
        to: target,
        forced: Boolean(request.force) && (worse === true || !scored),
        actor: request.actor,
        ...(request.reason ? { reason: request.reason } : {}),
        ...(scored ? { gate: scored } : {}),
      };
      await this.state.setActive(target);
      await this.state.append(entry);
      return entry;
    });
  }

  /** Points `active` back at the version it replaced last (the history's newest promotion into it). */
  rollback(request: { actor: string; reason?: string | undefined }): Promise<PromotionOutcome> {
    return this.serial(async () => {
      const active = await this.state.active();
      const last = (await this.state.history()).reverse().find((e) => e.to === active && e.from !== null);
      if (active === undefined || !last || last.from === null) throw new HttpError(409, 'nothing_to_roll_back', 'the history names no version before the active one');
      // It must still load: a rollback to a broken version would leave every replica on the old one anyway.
      await this.withVersion(last.from, async () => undefined);
      const entry: HistoryEntry = {
        at: new Date().toISOString(),
        action: 'rollback',
        from: active,
        to: last.from,
        forced: false,
        actor: request.actor,
        ...(request.reason ? { reason: request.reason } : {}),
      };
      await this.state.setActive(last.from);
      await this.state.append(entry);
      return entry;
    });
  }
}
