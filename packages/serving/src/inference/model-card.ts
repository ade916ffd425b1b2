import { z } from 'zod';

const tensorSpec = z.object({
  name: z.string().min(1),
  type: z.enum(['float32', 'float64', 'int32', 'int64', 'bool']),
  /** -1 marks a dynamic dimension; the first is the batch dimension. */
  shape: z.array(z.number().int().min(-1)).min(1),
});

/**
 * The model card every version directory carries as `model.json`. The core needs the fields below; the rest
 * (metrics, data source, hyper-parameters...) passes through to `GET /v1/model` untouched.
 */
export const modelCardSchema = z.looseObject({
  name: z.string().min(1),
  version: z.string().regex(/^\d+$/, 'must be a whole number (the version directory name)'),
  description: z.string().optional(),
  trained_at: z.string().optional(),
  inputs: z.array(tensorSpec).length(1, 'exactly one input tensor is supported'),
  outputs: z.array(tensorSpec).min(1),
  onnx_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex sha256'),
});

export type ModelCard = z.output<typeof modelCardSchema>;
export type TensorSpec = z.output<typeof tensorSpec>;

/** Values per row of a tensor: the product of its non-batch dimensions. */
export function rowSize(spec: TensorSpec): number {
  return spec.shape.slice(1).reduce((n, d) => n * (d < 0 ? 1 : d), 1);
}
