import { z } from 'zod';
import { TENSOR_TYPES, bytesPerElement } from './tensor';

const tensorSpec = z.object({
  name: z.string().min(1),
  type: z.enum(TENSOR_TYPES),
  /**
   * The first dimension is the batch (-1: any size); every other is the fixed per-row shape. A dynamic
   * per-row dimension (an image of any size) cannot be batched, so the card refuses it.
   */
  shape: z
    .array(z.number().int())
    .min(1)
    .refine((s) => s[0] === -1, { message: 'the first dimension must be -1 (the batch dimension)' })
    .refine((s) => s.slice(1).every((d) => d >= 1), {
      message: 'every dimension after the batch dimension must be fixed (>= 1): resize or pad inputs in prepare',
    }),
});

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex sha256');

/** A file of the version directory: its '/'-separated path inside it, never leaving it, never the card itself. */
const versionFile = z
  .string()
  .refine((p) => !p.startsWith('/') && !p.includes('\\') && p.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), {
    message: "must be a path inside the version directory ('/'-separated, no '.', '..' or empty parts)",
  })
  .refine((p) => p !== 'model.json', { message: 'model.json (the card) cannot list itself' });

/**
 * The model card every version directory carries as `model.json`. The core needs the fields below; the rest
 * (metrics, data source, hyper-parameters...) passes through to `GET /v1/model` untouched.
 */
export const modelCardSchema = z.looseObject({
  name: z.string().min(1),
  version: z.string().regex(/^\d+$/, 'must be a whole number (the version directory name)'),
  description: z.string().optional(),
  trained_at: z.string().optional(),
  inputs: z
    .array(tensorSpec)
    .min(1)
    .refine((specs) => new Set(specs.map((s) => s.name)).size === specs.length, { message: 'input names must be unique' }),
  outputs: z
    .array(tensorSpec)
    .min(1)
    .refine((specs) => new Set(specs.map((s) => s.name)).size === specs.length, { message: 'output names must be unique' }),
  /**
   * sha256 of every file of the version directory but model.json, by path (`{"model.onnx": ..., "features.json":
   * ...}`): the repository refuses a version with a file that differs, is missing or is not listed.
   */
  files: z.record(versionFile, sha256Hex).refine((files) => Object.hasOwn(files, 'model.onnx'), { message: 'must list model.onnx' }),
  /**
   * The graph's sha256 again, kept (and required to equal `files["model.onnx"]`) because readers older than
   * `files` show it: GET /v1/model, /health, the model_info metric's sha256 label, dashboards.
   */
  onnx_sha256: sha256Hex,
}).refine((card) => card.files['model.onnx'] === card.onnx_sha256, {
  message: 'onnx_sha256 must equal files["model.onnx"]',
  path: ['onnx_sha256'],
});

export type ModelCard = z.output<typeof modelCardSchema>;
export type TensorSpec = z.output<typeof tensorSpec>;

/** Values per row of a tensor: the product of its per-row dimensions (all fixed; the card checks that). */
export function rowSize(spec: Pick<TensorSpec, 'shape'>): number {
  return spec.shape.slice(1).reduce((n, d) => n * d, 1);
}

/** Bytes one row of every input takes: what a queued row costs in memory. */
export function rowBytes(card: Pick<ModelCard, 'inputs'>): number {
  return card.inputs.reduce((sum, spec) => sum + rowSize(spec) * bytesPerElement(spec.type), 0);
}
