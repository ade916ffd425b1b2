/**
 * Training data for the vehicle classifier, as tensors made by the SERVICE'S OWN preprocessing
 * (src/image.ts `toPixels`: the bytes a user would upload → the model's float32 input), so training and
 * serving see identical numbers. Writes to training/data/ (never committed):
 *   {train,val,shifted}.f32     float32 [n, 3, 64, 64]      {train,val,shifted}.labels.u8   class index per image
 *   golden.f32 + golden.json    a few uploads (one per class, plus grayscale / alpha / 16-bit / CMYK / EXIF-rotated
 *                               / animated variants) with their base64 bytes: the version's golden vectors
 *   evaluation.json             held-out uploads (base64) with their labels: the promotion gate's evaluation set
 *   meta.json                   classes, counts, seeds, where the images came from
 *
 * Source of the images (one of):
 *   default             the seeded procedural renderer (training/render.ts): train/val from the `train` domain,
 *                       the shifted test set from the `shifted` domain with another seed
 *   --images <root>     a standard image-folder layout, root/<class>/*.{jpg,jpeg,png,webp}: classes are the folder
 *                       names (sorted), 15 % of each class (chosen by the sha256 of the file) is validation;
 *                       --shifted <root2> (same layout, same classes) is the robustness test set, if given
 * Options: --per-class <n> (renders per class for training, default 2400), --held-out-per-class <n> (validation and
 * shifted renders per class, default 150), --seed <s> (default 12).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { runScript, stepLogger, writeArray } from '@predict/model-tools';
import { INPUT_SIZE } from '../src/image';
import { CLASSES } from './render';
import { renderSet, toTensors, type Upload } from './render-set';

const DATA = path.resolve(__dirname, 'data');
const log = stepLogger('render-data');

/** Preprocesses uploads into one tensor file and one label file. */
async function writeSet(name: string, uploads: readonly Upload[]): Promise<void> {
  const { x, y } = await toTensors(uploads);
  writeArray(path.join(DATA, `${name}.f32`), x);
  writeArray(path.join(DATA, `${name}.labels.u8`), y);
  const counts = Array.from(new Set(y)).length;
  log(`${name}: ${uploads.length} images, ${counts} classes`);
}

function readFolder(root: string, classes?: readonly string[]): { classes: string[]; uploads: Upload[] } {
  const names = classes ?? readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  if (names.length < 2) throw new Error(`${root}: needs at least two class folders (root/<class>/*.jpg)`);
  const uploads = names.flatMap((cls, label) =>
    readdirSync(path.join(root, cls))
      .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
      .sort()
      .map((f) => ({ bytes: readFileSync(path.join(root, cls, f)), label, name: `${cls}/${f}` })),
  );
  return { classes: [...names], uploads };
}

/** Deterministic split by content: the same file is always on the same side. */
const isValidation = (bytes: Buffer) => (createHash('sha256').update(bytes).digest()[0] as number) < 0.15 * 256;

/** A two-frame animated WebP: the picture, then a black frame of the same size. */
async function animated(bytes: Buffer): Promise<Buffer> {
  const first = await sharp(bytes).png().toBuffer({ resolveWithObject: true });
  const black = await sharp({ create: { width: first.info.width, height: first.info.height, channels: 3, background: '#000' } }).png().toBuffer();
  return sharp([first.data, black], { join: { animated: true } }).webp({ quality: 90 }).toBuffer();
}

/** Golden uploads: the first validation image of each class, and the same pictures in the awkward encodings users send. */
async function goldenUploads(val: readonly Upload[], classCount: number): Promise<Upload[]> {
  const firsts = Array.from({ length: classCount }, (_, c) => val.find((u) => u.label === c)).filter((u): u is Upload => u !== undefined);
  const pick = (i: number) => firsts[i % firsts.length] as Upload;
  const variant = async (u: Upload, name: string, make: (s: sharp.Sharp) => sharp.Sharp) => ({ ...u, name: `${u.name} as ${name}`, bytes: await make(sharp(u.bytes)).toBuffer() });
  return [
    ...firsts,
    await variant(pick(0), 'grayscale JPEG', (s) => s.grayscale().toColourspace('b-w').jpeg({ quality: 80 })),
    await variant(pick(1), 'PNG with alpha', (s) => s.resize({ width: 96 }).ensureAlpha(0.6).png()),
    await variant(pick(2), '16-bit PNG', (s) => s.resize({ width: 96 }).toColourspace('rgb16').png()),
    await variant(pick(3), 'CMYK JPEG', (s) => s.toColourspace('cmyk').jpeg({ quality: 85 })),
    // Pixels stored rotated 90° clockwise... with EXIF orientation 8 (display rotated 90° anticlockwise): upright once auto-oriented.
    await variant(pick(4), 'EXIF-oriented JPEG (orientation 8)', (s) => s.rotate(90).withMetadata({ orientation: 8 }).jpeg({ quality: 85 })),
    { ...pick(5), name: `${pick(5).name} as animated WebP (2 frames; the first is classified)`, bytes: await animated(pick(5).bytes) },
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      images: { type: 'string' },
      shifted: { type: 'string' },
      'per-class': { type: 'string', default: '2400' },
      'held-out-per-class': { type: 'string', default: '150' },
      seed: { type: 'string', default: '12' },
    },
  });
  mkdirSync(DATA, { recursive: true });
  const seed = Number(values.seed);
  const perClass = Number(values['per-class']);
  const heldOut = Number(values['held-out-per-class']);
  let classes: string[];
  let train: Upload[];
  let val: Upload[];
  let shifted: Upload[];
  let source: Record<string, unknown>;
  if (values.images !== undefined) {
    const folder = readFolder(values.images);
    classes = folder.classes;
    train = folder.uploads.filter((u) => !isValidation(u.bytes));
    val = folder.uploads.filter((u) => isValidation(u.bytes));
    shifted = values.shifted === undefined ? [] : readFolder(values.shifted, classes).uploads;
    source = { kind: 'image-folder', root: path.resolve(values.images), shifted: values.shifted === undefined ? null : path.resolve(values.shifted) };
  } else {
    classes = [...CLASSES];
    log(`rendering ${perClass} train + ${heldOut} validation images per class (train domain), ${heldOut} per class shifted`);
    train = await renderSet('train', perClass, seed);
    val = await renderSet('train', heldOut, seed + 1);
    shifted = await renderSet('shifted', heldOut, seed + 2);
    source = { kind: 'synthetic', renderer: 'training/render.ts', seeds: { train: seed, validation: seed + 1, shifted: seed + 2 }, per_class: { train: perClass, validation: heldOut, shifted: heldOut } };
    log('rendered');
  }
  await writeSet('train', train);
  await writeSet('val', val);
  if (shifted.length > 0) await writeSet('shifted', shifted);

  const golden = await goldenUploads(val, classes.length);
  await writeSet('golden', golden);
  writeFileSync(path.join(DATA, 'golden.json'), JSON.stringify(golden.map((u) => ({ name: u.name, label: u.label, image_base64: u.bytes.toString('base64') }))));
  // The promotion gate's evaluation set (committed, so kept small): 5 validation and 5 shifted JPEG uploads per class.
  const jpegs = (set: Upload[], c: number) => set.filter((u) => u.label === c && u.bytes[0] === 0xff);
  const evaluation = classes.flatMap((_, c) => [...jpegs(val, c).slice(1, 6), ...jpegs(shifted, c).slice(0, 5)]);
  writeFileSync(path.join(DATA, 'evaluation.json'), JSON.stringify({ rows: evaluation.map((u) => ({ input: { image_base64: u.bytes.toString('base64') }, target: classes[u.label] })) }));
  const bytes = (set: Upload[]) => set.reduce((n, u) => n + u.bytes.length, 0);
  writeFileSync(
    path.join(DATA, 'meta.json'),
    JSON.stringify(
      {
        classes,
        input: { name: 'image', shape: [-1, 3, INPUT_SIZE, INPUT_SIZE] },
        counts: { train: train.length, validation: val.length, shifted: shifted.length, golden: golden.length, evaluation: evaluation.length },
        mean_upload_bytes: Math.round(bytes(train) / Math.max(1, train.length)),
        source,
      },
      null,
      1,
    ),
  );
  log('done');
}

runScript(main);
