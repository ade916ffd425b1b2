import { parseOrThrow, type Logger, type PredictedChunk, type ServingMetrics, type SourceContext } from '@predict/serving';
import { auditRecords } from './audit-log';
import { loadBatchConfig } from './config';
import { emptyFacility } from './feature-store';
import { createIitRiskPredictor } from './predictor';
import { facilityParamsSchema, type RiskPrediction } from './schema';
import { createStoreParts } from './store-parts';

/** The `facility` source's params, `{facility_id}`: a 400 naming the field otherwise. */
const facilityParams = (params: Record<string, unknown>) => parseOrThrow(facilityParamsSchema, params, ['params']).facility_id;

/** The patient id a row names, if it is a store-backed row. */
const patientIdOf = (row: unknown): string | undefined => {
  const id = row !== null && typeof row === 'object' ? (row as { patient_id?: unknown }).patient_id : undefined;
  return typeof id === 'string' ? id : undefined;
};

/**
 * iit-risk in the batch worker, as its HTTP service runs it: the predictor whose `prepare` reads the same
 * feature store (one MGET per chunk), on its own Redis connection (started and stopped with the worker), the
 * `facility` source, and an audit record per prediction. Reads the store and audit variables from `env`
 * (loadBatchConfig): they must equal the service's.
 *
 * - Source `facility`, params `{facility_id}`: every patient stored with that facility, from a copy of the
 *   facility index frozen at the job's first attempt (FeatureStore.snapshotFacility), read by row range, so a
 *   retried or taken-over job resumes at its next chunk with the same people in the same rows. Its rows are
 *   `{patient_id}` requests: they never enter job data, logs or results.
 * - Results: each store-backed row's output carries `patient_hmac` (HMAC-SHA256 under AUDIT_HMAC_KEY, as in
 *   the audit log) beside score, band and top factors; never the id. Staff resolve the HMACs of the rows they
 *   act on with `POST /v1/facilities/:facility_id/resolve`.
 * - Audit: one record per answered row (request id `job:<job id>`, index = row in the job), written before the
 *   chunk's results under the marker `job:<job id>:<chunk>`: a retried chunk never writes twice. AUDIT_REQUIRED
 *   as online: with the audit stream unwritable the chunk fails (and the job is retried); with false, rows
 *   are answered unaudited and counted.
 */
export function iitRiskBatchParts({ env = process.env, logger, metrics }: { env?: NodeJS.ProcessEnv; logger: Logger; metrics: ServingMetrics }) {
  const config = loadBatchConfig(env);
  const { redis, store, audit } = createStoreParts(config, logger, metrics.registry, { role: 'iit-risk-store', service: 'batch-worker' });
  return {
    redis,
    store,
    audit,
    predictor: createIitRiskPredictor(store),
    sources: {
      facility: {
        async count(params: Record<string, unknown>, ctx: SourceContext): Promise<number> {
          const rows = await store.snapshotFacility(facilityParams(params), ctx.jobId, ctx.ttlSeconds);
          if (rows === 0) throw emptyFacility();
          return rows;
        },
        async read(_params: Record<string, unknown>, start: number, end: number, ctx: SourceContext): Promise<unknown[]> {
          // params were checked by count(), which every attempt runs first.
          const ids = await store.snapshotRange(ctx.jobId, start, end);
          if (ids.length !== end - start) throw new Error(`the facility roster of job ${ctx.jobId} is missing rows (its copy expired)`);
          return ids.map((patientId) => ({ patient_id: patientId }));
        },
      },
    },
    /** Audits the chunk's answered rows (once per chunk) and gives each store-backed row its patient_hmac. */
    async afterChunk(chunk: PredictedChunk<RiskPrediction>): Promise<(Record<string, unknown> | undefined)[]> {
      // Only answered rows are audited or carry an HMAC: failed rows are not hashed.
      const hmacs = chunk.rows.map((row, i) => {
        const id = chunk.results[i]?.ok ? patientIdOf(row) : undefined;
        return id === undefined ? null : audit.hmac(id);
      });
      const answered = chunk.results.flatMap((result, i) => (result.ok ? [{ index: chunk.base + i, patientHmac: hmacs[i] ?? null, output: result.output }] : []));
      const records = auditRecords(new Date().toISOString(), { requestId: `job:${chunk.jobId}`, keyId: chunk.submittedBy }, chunk.model, answered);
      await audit.write(`job:${chunk.jobId}:${chunk.chunk}`, records);
      return chunk.results.map((result, i) => (result.ok && hmacs[i] ? { patient_hmac: hmacs[i] } : undefined));
    },
    start(): void {
      redis.start();
    },
    stop: () => redis.stop(),
  };
}

export type { PatientFeaturesInput } from './schema';
