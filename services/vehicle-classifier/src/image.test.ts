import sharp from 'sharp';
import { HttpError } from '@predict/serving';
import { INPUT_SIZE, PIXELS_PER_IMAGE, normaliseInto, sniffFormat, toPixels, toRgb } from './image';

const LIMITS = { maxPixels: 1_000_000 };
const plane = INPUT_SIZE * INPUT_SIZE;

/** A picture whose left half is red and right half blue. */
const halves = (width = 200, height = 100) =>
  sharp({ create: { width, height, channels: 3, background: '#0000ff' } }).composite([
    { input: { create: { width: width / 2, height, channels: 3, background: '#ff0000' } }, left: 0, top: 0 },
  ]);

/** Red and blue (in [-1, 1]) at a pixel of the preprocessed tensor. */
const rgbAt = (t: Float32Array, x: number, y: number) => [t[y * INPUT_SIZE + x]!, t[plane + y * INPUT_SIZE + x]!, t[2 * plane + y * INPUT_SIZE + x]!];

async function refusal(bytes: Uint8Array, limits = LIMITS): Promise<HttpError> {
  const error = await toPixels(bytes, limits).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpError);
  expect((error as HttpError).status).toBe(400);
  return error as HttpError;
}

describe('image preprocessing (src/image.ts: the one path for serving and training)', () => {
  it('detects the format from the bytes only', async () => {
    expect(sniffFormat(await halves().jpeg().toBuffer())).toBe('jpeg');
    expect(sniffFormat(await halves().png().toBuffer())).toBe('png');
    expect(sniffFormat(await halves().webp().toBuffer())).toBe('webp');
    expect(sniffFormat(await halves().gif().toBuffer())).toBeUndefined();
    expect(sniffFormat(Buffer.from('hello, this is not a picture'))).toBeUndefined();
  });

  it('serving\'s path (8-bit RGB, then scaled into a batch row) gives exactly the floats toPixels gives', async () => {
    const photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg({ quality: 85 })
      .toBuffer();
    const expected = await toPixels(photo, LIMITS);
    const rgb = await toRgb(photo, LIMITS);
    expect(rgb).toHaveLength(PIXELS_PER_IMAGE);
    // Row 1 of a 3-row batch, as featurize writes it; the rows around it stay untouched.
    const batch = new Float32Array(3 * PIXELS_PER_IMAGE).fill(7);
    normaliseInto(rgb, batch.subarray(PIXELS_PER_IMAGE, 2 * PIXELS_PER_IMAGE));
    expect(Array.from(batch.subarray(PIXELS_PER_IMAGE, 2 * PIXELS_PER_IMAGE))).toEqual(Array.from(expected));
    expect(batch.subarray(0, PIXELS_PER_IMAGE).every((v) => v === 7) && batch.subarray(2 * PIXELS_PER_IMAGE).every((v) => v === 7)).toBe(true);
    expect(() => normaliseInto(rgb, new Float32Array(PIXELS_PER_IMAGE - 1))).toThrow(/expected 12288/);
  });

  it('scales every byte value to (v / 255 - 0.5) / 0.5 as float32, channel-major (what training wrote)', () => {
    const plane = INPUT_SIZE * INPUT_SIZE;
    const hwc = Uint8Array.from({ length: PIXELS_PER_IMAGE }, (_, i) => (i * 7) % 256);
    const out = normaliseInto(hwc, new Float32Array(PIXELS_PER_IMAGE));
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = hwc[p * 3 + c] as number;
        if (out[c * plane + p] !== Math.fround((v / 255 - 0.5) / 0.5)) throw new Error(`pixel ${p} channel ${c}: ${out[c * plane + p]} for byte ${v}`);
      }
    }
    expect([out[0], out[plane], out[2 * plane]]).toEqual([-1, Math.fround((7 / 255 - 0.5) / 0.5), Math.fround((14 / 255 - 0.5) / 0.5)]);
  });

  it('gives a 3×64×64 tensor in [-1, 1], channel-major, the left half red and the right half blue', async () => {
    const t = await toPixels(await halves().png().toBuffer(), LIMITS);
    expect(t).toHaveLength(PIXELS_PER_IMAGE);
    expect(Math.min(...t)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...t)).toBeLessThanOrEqual(1);
    expect(rgbAt(t, 5, 30)).toEqual([1, -1, -1]);
    expect(rgbAt(t, 58, 30)).toEqual([-1, -1, 1]);
  });

  it('turns EXIF orientation into upright pixels', async () => {
    // Pixels stored rotated 180° with orientation 3 ("rotate 180 to display"): upright, red is on the left again.
    const upright = await halves().png().toBuffer();
    const stored = await sharp(upright).rotate(180).withMetadata({ orientation: 3 }).jpeg({ quality: 95 }).toBuffer();
    expect(rgbAt(await toPixels(await sharp(upright).rotate(180).jpeg().toBuffer(), LIMITS), 5, 30)[0]).toBeLessThan(-0.8); // without the tag: blue on the left
    expect((await sharp(stored).metadata()).orientation).toBe(3);
    const t = await toPixels(stored, LIMITS);
    expect(rgbAt(t, 5, 30)[0]).toBeGreaterThan(0.8);
    expect(rgbAt(t, 58, 30)[2]).toBeGreaterThan(0.8);
  });

  it('handles grayscale, alpha, CMYK and 16-bit inputs as RGB', async () => {
    const grey = await toPixels(await sharp({ create: { width: 80, height: 60, channels: 3, background: '#808080' } }).toColourspace('b-w').png().toBuffer(), LIMITS);
    expect(rgbAt(grey, 10, 10).every((v) => Math.abs(v - rgbAt(grey, 10, 10)[0]!) < 1e-6)).toBe(true);
    // Fully transparent pixels are laid on grey 128 (~0.004 after scaling), whatever colour they hold.
    const clear = await toPixels(await sharp({ create: { width: 80, height: 60, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } }).png().toBuffer(), LIMITS);
    for (const v of rgbAt(clear, 20, 20)) expect(Math.abs(v)).toBeLessThan(0.01);
    const cmyk = await halves().toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    // Pure sRGB blue is outside the CMYK gamut: it comes back a duller blue, still bluer than red.
    const fromCmyk = await toPixels(cmyk, LIMITS);
    const [left, right] = [rgbAt(fromCmyk, 5, 30), rgbAt(fromCmyk, 58, 30)];
    expect(left[0]!).toBeGreaterThan(left[2]! + 0.5);
    expect(right[2]!).toBeGreaterThan(right[0]! + 0.5);
    const deep = await halves().toColourspace('rgb16').png().toBuffer();
    expect((await sharp(deep).metadata()).depth).toBe('ushort');
    expect(rgbAt(await toPixels(deep, LIMITS), 5, 30)).toEqual([1, -1, -1]);
  });

  it('classifies the first frame of an animated image', async () => {
    const red = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const blue = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#0000ff' } }).png().toBuffer();
    const animated = await sharp([red, blue], { join: { animated: true } }).webp({ lossless: true }).toBuffer();
    expect((await sharp(animated).metadata()).pages).toBe(2);
    expect(rgbAt(await toPixels(animated, LIMITS), 20, 20)).toEqual([1, -1, -1]);
  });

  it('refuses what is not a usable image with a 400 naming the reason', async () => {
    expect((await refusal(Buffer.alloc(0))).message).toContain('empty');
    expect((await refusal(Buffer.from('GIF89a... or a text file named photo.jpg'))).message).toContain('not a JPEG, PNG or WebP');
    const jpeg = await halves(640, 480).jpeg().toBuffer();
    expect((await refusal(jpeg.subarray(0, Math.floor(jpeg.length / 2)))).code).toBe('invalid_image');
    const png = await halves(640, 480).png().toBuffer();
    await refusal(Buffer.concat([png.subarray(0, 40), Buffer.alloc(200, 7)]));
  });

  it('refuses a decompression bomb from its header, just above the pixel limit', async () => {
    // 1001 × 1000 of one colour: a few kB of PNG declaring 1,001,000 pixels, one row over the limit.
    const bomb = await sharp({ create: { width: 1001, height: 1000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
    expect(bomb.length).toBeLessThan(20_000);
    const error = await refusal(bomb);
    expect(error.message).toContain('1001×1000 = 1001000 pixels exceeds the limit of 1000000');
    const atLimit = await sharp({ create: { width: 1000, height: 1000, channels: 3, background: '#000' } }).png().toBuffer();
    await expect(toPixels(atLimit, LIMITS)).resolves.toHaveLength(PIXELS_PER_IMAGE);
  });
});
