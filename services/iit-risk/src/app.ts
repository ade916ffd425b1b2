import { callerOf, createServiceApp, parseOrThrow, type AnsweredPredictions, type ServiceAppDeps } from '@predict/serving';
import type { Request } from 'express';
import { z } from 'zod';
import type { AuditLog, AuditRecord } from './audit-log';
import { type FeatureStore, unknownPatient } from './feature-store';
import type { IitArtifacts, PreparedRequest } from './predictor';
import { patientFeaturesSchema, patientIdSchema, type RiskPrediction, type RiskRequest } from './schema';

export type AppDeps = ServiceAppDeps<RiskRequest, RiskPrediction, IitArtifacts, PreparedRequest> & {
  store: FeatureStore;
  audit: AuditLog;
};

const patientParams = z.object({ patient_id: patientIdSchema }).strict();
const auditQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict();

/** The validated `:patient_id` of a feature-store route (400 naming `patient_id` otherwise; the value is never echoed). */
const patientIdOf = (req: Request) => parseOrThrow(patientParams, req.params).patient_id;

/**
 * The iit-risk HTTP app: the platform's standard routes (`/v1/predict`, `/v1/predict/batch`, `/v1/model`,
 * model admin, health, metrics, OpenAPI), the feature store (`/v1/patients/:patient_id/features`), the audit
 * log read (`GET /admin/audit`), and an audit record for every answered prediction before it is sent.
 */
export function createApp(deps: AppDeps) {
  const { store, audit } = deps;
  return createServiceApp(deps, {
    onPredictions: async ({ res, requestId, model, predictions }: AnsweredPredictions<RiskRequest, RiskPrediction>) => {
      const at = new Date().toISOString();
      const keyId = callerOf(res) ?? 'anonymous';
      const records = predictions.map(({ index, input, output }): AuditRecord => ({
        at,
        request_id: requestId,
        index,
        key_id: keyId,
        patient_hmac: input.patient_id === undefined ? null : audit.hmac(input.patient_id),
        source: input.patient_id === undefined ? 'inline' : 'store',
        model: model.name,
        model_version: model.version,
        risk_score: output.risk_score,
        risk_band: output.risk_band,
      }));
      await audit.write(requestId, records);
    },
    routes: (routes, { json }) => {
      const path = '/v1/patients/:patient_id/features';
      routes
        .add({
          method: 'put',
          path,
          summary: "Store (replace) a person's current features; they expire FEATURE_TTL_DAYS after the last PUT",
          scope: 'predict',
          body: { decoders: [json], schema: patientFeaturesSchema },
          responses: { 204: { description: 'stored' } },
          errors: [503],
          handler: async (req, res) => {
            const patientId = patientIdOf(req);
            await store.put(patientId, parseOrThrow(patientFeaturesSchema, req.body));
            res.status(204).end();
          },
        })
        .add({
          method: 'get',
          path,
          summary: "A person's stored features",
          scope: 'predict',
          responses: { 200: { description: 'the stored features', schema: z.object({ features: patientFeaturesSchema }) } },
          errors: [404, 503],
          handler: async (req, res) => {
            const features = await store.get(patientIdOf(req));
            if (features === undefined) throw unknownPatient();
            res.json({ features });
          },
        })
        .add({
          method: 'delete',
          path,
          summary: "Remove a person's stored features",
          scope: 'predict',
          responses: { 204: { description: 'removed' } },
          errors: [404, 503],
          handler: async (req, res) => {
            if (!(await store.delete(patientIdOf(req)))) throw unknownPatient();
            res.status(204).end();
          },
        })
        .add({
          method: 'get',
          path: '/admin/audit',
          summary: 'The newest audit records, newest first (admin scope): time, request id, key id, patient id HMAC, model version, score, band',
          scope: 'admin',
          responses: { 200: { description: 'audit records', schema: z.object({ records: z.array(z.record(z.string(), z.unknown())) }) } },
          errors: [503],
          handler: async (req, res) => {
            const { limit } = parseOrThrow(auditQuery, req.query);
            res.json({ records: await audit.read(limit) });
          },
        });
    },
  });
}
