import sharp from 'sharp';
import { HttpError } from '@predict/serving';

/** Side of the square model input, in pixels (model card: `image` float32 [-1, 3, 64, 64]). */
export const INPUT_SIZE = 64;
export const CHANNELS = 3;
/** Float32 values of one preprocessed image: CHW, RGB. */
export const PIXELS_PER_IMAGE = CHANNELS * INPUT_SIZE * INPUT_SIZE;
/** What transparent pixels are laid on before the alpha channel is dropped (mid grey: no class has a white or black body bias). */
const FLATTEN_BACKGROUND = { r: 128, g: 128, b: 128 };

export type ImageFormat = 'jpeg' | 'png' | 'webp';

/**
 * The format from the file's first bytes (magic numbers), never from a filename or a Content-Type:
 * JPEG `FF D8 FF`, PNG `89 50 4E 47 0D 0A 1A 0A`, WebP `RIFF····WEBP`.
 */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  const at = (i: number, values: number[]) => values.every((v, k) => bytes[i + k] === v);
  if (at(0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50])) return 'webp';
  return undefined;
}

export interface DecodeLimits {
  /** Most pixels (width × height of the first frame) an image may declare: the decompression-bomb guard. */
  maxPixels: number;
}

/** 400 `invalid_image` for the `image` field (or `field`), with the reason. */
export function invalidImage(message: string, field = 'image', cause?: unknown): HttpError {
  return new HttpError(400, 'invalid_image', `${field}: ${message}`, {
    details: [{ path: field, message, code: 'invalid_image' }],
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * One uploaded image → the model's input: the only preprocessing path, used by serving (`prepare`) and by
 * training (training/render-data.ts writes these very tensors). Steps:
 *   1. format sniffed from the bytes (JPEG, PNG, WebP; anything else 400);
 *   2. header read: width × height above `maxPixels` is refused before any pixel is decoded (400);
 *   3. first frame only (an animated WebP/PNG is classified by its first frame), EXIF auto-orient,
 *      alpha flattened on mid grey, any colour space (grayscale, CMYK, 16-bit, ...) to 8-bit sRGB;
 *   4. resized to 64 × 64 (`fill`: the whole vehicle is kept, its aspect squeezed, as in training);
 *   5. scaled to [-1, 1]: (v / 255 - 0.5) / 0.5, channel-major (CHW).
 * A truncated or corrupt file is a 400 naming the decoder's reason. Everything happens in memory.
 */
export async function toPixels(bytes: Uint8Array, limits: DecodeLimits, field = 'image'): Promise<Float32Array> {
  return normalise(await toRgb(bytes, limits, field));
}

/**
 * Steps 1-4 of `toPixels`: the 64 × 64 interleaved 8-bit RGB (HWC) that step 5 scales. Serving keeps this
 * (12 KB an image) until `normaliseInto` writes the floats straight into the batch row, so no 48 KB float
 * copy is made per upload; the values are the same as `toPixels` gives (one function computes both).
 */
export async function toRgb(bytes: Uint8Array, limits: DecodeLimits, field = 'image'): Promise<Uint8Array> {
  if (bytes.length === 0) throw invalidImage('is empty', field);
  const format = sniffFormat(bytes);
  if (format === undefined) throw invalidImage('is not a JPEG, PNG or WebP image (judged by its first bytes, not its name or Content-Type)', field);
  // failOn 'warning': a truncated JPEG (libjpeg "premature end") is refused rather than half-grey. One sharp call
  // on the happy path: libvips checks width × height against limitInputPixels when it opens the header, before
  // any pixel is decoded; only a refused image pays a second header read, to say why.
  const options = { failOn: 'warning', limitInputPixels: limits.maxPixels, pages: 1 } as const;
  let raw: { data: Buffer; info: sharp.OutputInfo };
  try {
    raw = await sharp(bytes, options)
      .rotate()
      .flatten({ background: FLATTEN_BACKGROUND })
      .toColourspace('srgb')
      .resize(INPUT_SIZE, INPUT_SIZE, { fit: 'fill' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw await refusal(bytes, format, limits, field, error);
  }
  const { data, info } = raw;
  if (info.channels !== CHANNELS || info.width !== INPUT_SIZE || info.height !== INPUT_SIZE) {
    throw new Error(`preprocessing produced ${info.width}×${info.height}×${info.channels}, expected ${INPUT_SIZE}×${INPUT_SIZE}×${CHANNELS}`);
  }
  return data;
}

/** Interleaved 8-bit RGB (HWC) → float32 CHW in [-1, 1], in a new array. */
export function normalise(hwc: Uint8Array): Float32Array {
  return normaliseInto(hwc, new Float32Array(PIXELS_PER_IMAGE));
}

/** Interleaved 8-bit RGB (HWC) → float32 CHW in [-1, 1], written into `out` (PIXELS_PER_IMAGE values, e.g. a batch row). */
export function normaliseInto(hwc: Uint8Array, out: Float32Array): Float32Array {
  if (hwc.length !== PIXELS_PER_IMAGE || out.length !== PIXELS_PER_IMAGE) throw new Error(`normalise: ${hwc.length} bytes into ${out.length} values, expected ${PIXELS_PER_IMAGE} each`);
  const plane = INPUT_SIZE * INPUT_SIZE;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < CHANNELS; c++) out[c * plane + p] = (hwc[p * CHANNELS + c]! / 255 - 0.5) / 0.5;
  }
  return out;
}

/** Why sharp refused an image: an unreadable header, no size, too many pixels, or the decoder's own reason. */
async function refusal(bytes: Uint8Array, format: ImageFormat, limits: DecodeLimits, field: string, error: unknown): Promise<HttpError> {
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(bytes, { failOn: 'warning', limitInputPixels: false, pages: 1 }).metadata());
  } catch (headerError) {
    return invalidImage(`cannot be read as ${format}: ${reason(headerError)}`, field, headerError);
  }
  if (width === undefined || height === undefined || width < 1 || height < 1) return invalidImage(`has no size in its ${format} header`, field);
  if (width * height > limits.maxPixels) {
    return invalidImage(`${width}×${height} = ${width * height} pixels exceeds the limit of ${limits.maxPixels} (MAX_IMAGE_PIXELS)`, field);
  }
  return invalidImage(`cannot be decoded as ${format}: ${reason(error)}`, field, error);
}

/** libvips' message, first line, without its trailing newline. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown error';
}
