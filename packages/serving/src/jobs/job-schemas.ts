import { jobProgressSchema, jobSummarySchema } from '@predict/jobs';
import { z } from 'zod';

/** `POST /v1/jobs`'s answer. */
export const jobSubmittedSchema = z.object({
  job_id: z.string(),
  status_url: z.string(),
  results_url: z.string(),
  rows: z.number().int().nullable(),
});

/** `GET /v1/jobs/:id`'s answer (JobStatus of @predict/jobs). */
export const jobStatusSchema = z.object({
  job_id: z.string(),
  queue: z.string(),
  state: z.enum(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'waiting-children', 'unknown']),
  progress: jobProgressSchema.nullable(),
  rows: z.number().int().nullable(),
  priority: z.string().nullable(),
  attempts_made: z.number().int(),
  enqueued_at: z.string().nullable(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  cancel_requested: z.boolean(),
  summary: jobSummarySchema.nullable(),
  error: z.object({ message: z.string() }).nullable(),
});
