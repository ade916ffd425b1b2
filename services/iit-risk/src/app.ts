import { callerOf, createServiceApp, jobSubmittedSchema, parseOrThrow, submitSourceJob, type AnsweredPredictions, type ServiceAppDeps } from '@predict/serving';
import type { Request } from 'express';
import { z } from 'zod';
import { auditRecords, matchHmacs, type AuditLog } from './audit-log';
import { type FeatureStore, unknownPatient } from './feature-store';
import type { IitArtifacts, PreparedRequest } from './predictor';
import { facilityIdSchema, facilityParamsSchema as facilityParams, patientFeaturesSchema, patientIdSchema, storedPatientSchema, type RiskPrediction, type RiskRequest } from './schema';

export type AppDeps = ServiceAppDeps<RiskRequest, RiskPrediction, IitArtifacts, PreparedRequest> & {
  store: FeatureStore;
  audit: AuditLog;
};

const patientParams = z.object({ patient_id: patientIdSchema }).strict();
const resolveBody = z.object({ patient_hmacs: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex HMAC-SHA256 (64 characters)')).min(1).max(1000) }).strict();
/** Most roster members one resolve call hashes. */
const MAX_ROSTER = 100_000;
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
      const answered = predictions.map(({ index, input, output }) => ({ index, output, patientHmac: input.patient_id === undefined ? null : audit.hmac(input.patient_id) }));
      await audit.write(requestId, auditRecords(new Date().toISOString(), { requestId, keyId: callerOf(res) }, model, answered));
    },
    routes: (routes, { json }) => {
      const path = '/v1/patients/:patient_id/features';
      routes
        .add({
          method: 'put',
          path,
          summary: "Store (replace) a person's current features, and optionally the facility whose roster they are on (`facility_id`: facility batch jobs score that roster); they expire FEATURE_TTL_DAYS after the last PUT",
          scope: 'predict',
          body: { decoders: [json], schema: storedPatientSchema },
          responses: { 204: { description: 'stored' } },
          errors: [503],
          handler: async (req, res) => {
            const patientId = patientIdOf(req);
            await store.put(patientId, parseOrThrow(storedPatientSchema, req.body));
            res.status(204).end();
          },
        })
        .add({
          method: 'get',
          path,
          summary: "A person's stored features (and facility, when one was stored)",
          scope: 'predict',
          responses: { 200: { description: 'the stored features', schema: z.object({ features: patientFeaturesSchema, facility_id: facilityIdSchema.optional() }) } },
          errors: [404, 503],
          handler: async (req, res) => {
            const record = await store.getRecord(patientIdOf(req));
            if (record === undefined) throw unknownPatient();
            const { facility_id: facilityId, ...features } = record;
            res.json(facilityId === undefined ? { features } : { features, facility_id: facilityId });
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
          method: 'post',
          path: '/v1/facilities/:facility_id/jobs',
          summary:
            'Score every patient stored with this facility_id, as a batch job (the worker’s `facility` source): its results carry index, patient_hmac, score, band and top factors, never an id. Status and results at /v1/jobs/:id',
          scope: 'predict',
          responses: { 202: { description: 'accepted', schema: jobSubmittedSchema } },
          errors: [503],
          handler: async (req, res) => {
            const { facility_id: facilityId } = parseOrThrow(facilityParams, req.params);
            await submitSourceJob(req, res, deps.jobs, 'facility', { facility_id: facilityId });
          },
        })
        .add({
          method: 'post',
          path: '/v1/facilities/:facility_id/resolve',
          summary:
            'Facility job results carry patient_hmac, never the patient id: this answers the ids of the given HMACs among the facility’s current roster (unknown ones are left out), so staff can act on a job’s high-risk rows',
          scope: 'predict',
          body: { decoders: [json], schema: resolveBody },
          responses: { 200: { description: 'the matches', schema: z.object({ patients: z.array(z.object({ patient_hmac: z.string(), patient_id: z.string() })) }) } },
          errors: [503],
          handler: async (req, res) => {
            const { facility_id: facilityId } = parseOrThrow(facilityParams, req.params);
            const wanted = new Set(parseOrThrow(resolveBody, req.body).patient_hmacs);
            const patients = await matchHmacs(await store.facilityMembers(facilityId, MAX_ROSTER), wanted, (id) => audit.hmac(id));
            res.json({ patients });
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
