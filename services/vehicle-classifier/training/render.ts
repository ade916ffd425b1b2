/**
 * The seeded procedural renderer of vehicle pictures (training data; nothing under src/ uses it). One scene is
 * an SVG — background, shadow, the vehicle drawn from per-class proportions, maybe an occluder and a noise
 * layer — rasterised by sharp (librsvg), then relit, maybe blurred, and encoded as JPEG (mostly), PNG or WebP:
 * the bytes a user would upload. The same seed gives the same bytes.
 *
 * Two domains: `train` (used for the training and validation sets) and `shifted` (the robustness test set:
 * backgrounds, body colours, scales, viewpoints and lighting the training set never shows).
 */
import sharp from 'sharp';
import { mulberry32 } from '@predict/model-tools';

export const CLASSES = ['bicycle', 'motorcycle', 'car', 'van', 'bus', 'truck'] as const;
export type VehicleClass = (typeof CLASSES)[number];
export type Domain = 'train' | 'shifted';
/** The ways the shifted domain departs from training; `shifted` is all of them at once. */
export const SHIFT_FACTORS = ['background', 'colour', 'scale', 'viewpoint', 'rotation', 'lighting', 'occlusion'] as const;
export type ShiftFactor = (typeof SHIFT_FACTORS)[number];
type Shift = Record<ShiftFactor, boolean>;
const shiftOf = (domain: Domain, only?: ShiftFactor): Shift =>
  Object.fromEntries(SHIFT_FACTORS.map((k) => [k, only === undefined ? domain === 'shifted' : k === only])) as Shift;

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  u(): number {
    return this.next();
  }
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hi: number): number {
    return Math.floor(this.range(lo, hi + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

const hsl = (h: number, s: number, l: number) => `hsl(${h.toFixed(0)},${s.toFixed(0)}%,${l.toFixed(0)}%)`;
const f = (n: number) => n.toFixed(1);

/** A body colour and a darker shade of it (the far side in a three-quarter view). */
function bodyColour(r: Rng, shifted: boolean): { main: string; dark: string } {
  const h = r.range(0, 360);
  // Train: mid-tones of any saturation above 25 %. Shifted: pastels, near-black and greys it never saw.
  const [s, l] =
    !shifted
      ? [r.range(12, 95), r.range(22, 64)]
      : r.pick([
          [r.range(25, 60), r.range(70, 85)],
          [r.range(0, 12), r.range(12, 75)],
        ]);
  return { main: hsl(h, s, l), dark: hsl(h, s, l * 0.6) };
}

/** The background, as SVG elements covering w × h; `horizon` is where the ground starts (for shadows). */
function background(r: Rng, shifted: boolean, w: number, h: number): { svg: string; horizon: number } {
  const horizon = h * r.range(0.45, 0.75);
  const id = `g${r.int(0, 1e6)}`;
  if (!shifted) {
    switch (r.pick(['street', 'gradient', 'noise', 'field', 'clutter', 'pattern'] as const)) {
      case 'pattern': {
        // Periodic high-contrast textures (checks, dots, grids): tiles, fences, façades.
        const a = hsl(r.range(0, 360), r.range(0, 80), r.range(20, 85));
        const b = hsl(r.range(0, 360), r.range(0, 80), r.range(20, 85));
        const p = r.range(5, 18);
        const tile = r.pick([
          `<rect width="${f(p)}" height="${f(p)}" fill="${b}"/><rect x="${f(p)}" y="${f(p)}" width="${f(p)}" height="${f(p)}" fill="${b}"/>`,
          `<circle cx="${f(p / 2)}" cy="${f(p / 2)}" r="${f(p * 0.35)}" fill="${b}"/>`,
          `<rect width="${f(p * 2)}" height="${f(p * 0.25)}" fill="${b}"/><rect width="${f(p * 0.25)}" height="${f(p * 2)}" fill="${b}"/>`,
        ]);
        return {
          svg: `<defs><pattern id="${id}" width="${f(p * 2)}" height="${f(p * 2)}" patternUnits="userSpaceOnUse"><rect width="${f(p * 2)}" height="${f(p * 2)}" fill="${a}"/>${tile}</pattern></defs><rect width="${w}" height="${h}" fill="url(#${id})"/>`,
          horizon,
        };
      }
      case 'clutter': {
        // Unrelated shapes behind the vehicle: walls, windows, signs, foliage seen as blocks of colour.
        const shapes = Array.from({ length: r.int(5, 12) }, () => {
          const c = hsl(r.range(0, 360), r.range(0, 70), r.range(20, 85));
          const [x, y, sw, sh] = [r.range(-10, w), r.range(-10, h), r.range(8, w / 2), r.range(8, h / 2)];
          return r.chance(0.5) ? `<rect x="${f(x)}" y="${f(y)}" width="${f(sw)}" height="${f(sh)}" fill="${c}"/>` : `<ellipse cx="${f(x)}" cy="${f(y)}" rx="${f(sw / 2)}" ry="${f(sh / 2)}" fill="${c}"/>`;
        });
        return { svg: `<rect width="${w}" height="${h}" fill="${hsl(r.range(0, 360), r.range(0, 40), r.range(30, 80))}"/>${shapes.join('')}`, horizon };
      }
      case 'street': {
        const sky = hsl(r.range(190, 225), r.range(30, 80), r.range(55, 85));
        const road = hsl(r.range(0, 60), r.range(0, 10), r.range(25, 50));
        const line = r.chance(0.6) ? `<rect x="0" y="${f(horizon + (h - horizon) * 0.55)}" width="${w}" height="${f(h * 0.015 + 1)}" fill="#eee" stroke-dasharray="6 6"/>` : '';
        return { svg: `<rect width="${w}" height="${h}" fill="${sky}"/><rect y="${f(horizon)}" width="${w}" height="${f(h - horizon)}" fill="${road}"/>${line}`, horizon };
      }
      case 'gradient': {
        const a = hsl(r.range(0, 360), r.range(10, 60), r.range(40, 90));
        const b = hsl(r.range(0, 360), r.range(10, 60), r.range(20, 70));
        return {
          svg: `<defs><linearGradient id="${id}" x1="0" y1="0" x2="${f(r.u())}" y2="1"><stop offset="0" stop-color="${a}"/><stop offset="1" stop-color="${b}"/></linearGradient></defs><rect width="${w}" height="${h}" fill="url(#${id})"/>`,
          horizon,
        };
      }
      case 'noise': {
        const base = hsl(r.range(0, 360), r.range(0, 40), r.range(35, 75));
        return {
          svg: `<defs><filter id="${id}"><feTurbulence type="fractalNoise" baseFrequency="${r.range(0.02, 0.08).toFixed(3)}" numOctaves="2" seed="${r.int(0, 999)}"/><feColorMatrix type="saturate" values="0"/></filter></defs><rect width="${w}" height="${h}" fill="${base}"/><rect width="${w}" height="${h}" filter="url(#${id})" opacity="${r.range(0.3, 0.6).toFixed(2)}"/>`,
          horizon,
        };
      }
      case 'field': {
        const sky = hsl(r.range(185, 215), r.range(40, 90), r.range(60, 90));
        const grass = hsl(r.range(75, 130), r.range(30, 70), r.range(25, 50));
        return { svg: `<rect width="${w}" height="${h}" fill="${sky}"/><rect y="${f(horizon)}" width="${w}" height="${f(h - horizon)}" fill="${grass}"/>`, horizon };
      }
    }
  }
  switch (r.pick(['dusk', 'stripes', 'brick', 'coarse-noise'] as const)) {
    case 'dusk': {
      const top = hsl(r.range(230, 280), r.range(30, 70), r.range(10, 25));
      const low = hsl(r.range(10, 40), r.range(60, 95), r.range(45, 65));
      return {
        svg: `<defs><linearGradient id="${id}" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${top}"/><stop offset="1" stop-color="${low}"/></linearGradient></defs><rect width="${w}" height="${h}" fill="url(#${id})"/><rect y="${f(horizon)}" width="${w}" height="${f(h - horizon)}" fill="${hsl(0, 0, r.range(8, 20))}"/>`,
        horizon,
      };
    }
    case 'stripes': {
      const a = hsl(r.range(0, 360), r.range(30, 80), r.range(40, 80));
      const b = hsl(r.range(0, 360), r.range(30, 80), r.range(20, 60));
      const p = r.range(6, 16);
      return {
        svg: `<defs><pattern id="${id}" width="${f(p * 2)}" height="${f(p * 2)}" patternUnits="userSpaceOnUse" patternTransform="rotate(${f(r.range(-60, 60))})"><rect width="${f(p * 2)}" height="${f(p * 2)}" fill="${a}"/><rect width="${f(p)}" height="${f(p * 2)}" fill="${b}"/></pattern></defs><rect width="${w}" height="${h}" fill="url(#${id})"/>`,
        horizon,
      };
    }
    case 'brick': {
      const mortar = hsl(r.range(20, 40), r.range(5, 20), r.range(60, 80));
      const brick = hsl(r.range(0, 25), r.range(40, 70), r.range(30, 45));
      const bw = r.range(14, 24);
      const bh = bw / 2.5;
      return {
        svg: `<defs><pattern id="${id}" width="${f(bw)}" height="${f(bh * 2)}" patternUnits="userSpaceOnUse"><rect width="${f(bw)}" height="${f(bh * 2)}" fill="${mortar}"/><rect x="1" y="1" width="${f(bw - 2)}" height="${f(bh - 2)}" fill="${brick}"/><rect x="${f(-bw / 2 + 1)}" y="${f(bh + 1)}" width="${f(bw - 2)}" height="${f(bh - 2)}" fill="${brick}"/><rect x="${f(bw / 2 + 1)}" y="${f(bh + 1)}" width="${f(bw - 2)}" height="${f(bh - 2)}" fill="${brick}"/></pattern></defs><rect width="${w}" height="${h}" fill="url(#${id})"/><rect y="${f(horizon)}" width="${w}" height="${f(h - horizon)}" fill="${hsl(0, 0, r.range(30, 55))}"/>`,
        horizon,
      };
    }
    case 'coarse-noise': {
      return {
        svg: `<defs><filter id="${id}"><feTurbulence type="turbulence" baseFrequency="${r.range(0.1, 0.25).toFixed(3)}" numOctaves="3" seed="${r.int(0, 999)}"/></filter></defs><rect width="${w}" height="${h}" fill="${hsl(r.range(0, 360), 40, 50)}"/><rect width="${w}" height="${h}" filter="url(#${id})" opacity="0.7"/>`,
        horizon,
      };
    }
  }
}

/** A wheel at (x, 0) of radius `rad`: tyre, rim and hub (bicycle wheels are open rings with spokes). */
function wheel(x: number, rad: number, kind: 'solid' | 'spoked', colour = '#1a1a1a'): string {
  if (kind === 'spoked') {
    const spokes = [0, 45, 90, 135].map((a) => {
      const dx = Math.cos((a * Math.PI) / 180) * rad;
      const dy = Math.sin((a * Math.PI) / 180) * rad;
      return `<line x1="${f(x - dx)}" y1="${f(-rad - dy)}" x2="${f(x + dx)}" y2="${f(-rad + dy)}" stroke="#999" stroke-width="0.8"/>`;
    });
    return `<circle cx="${f(x)}" cy="${f(-rad)}" r="${f(rad - 1.5)}" fill="none" stroke="${colour}" stroke-width="3"/>${spokes.join('')}`;
  }
  return `<circle cx="${f(x)}" cy="${f(-rad)}" r="${f(rad)}" fill="${colour}"/><circle cx="${f(x)}" cy="${f(-rad)}" r="${f(rad * 0.55)}" fill="#9a9a9a"/><circle cx="${f(x)}" cy="${f(-rad)}" r="${f(rad * 0.18)}" fill="#444"/>`;
}

const glass = (r: Rng) => hsl(r.range(190, 215), r.range(10, 40), r.range(55, 80));

/** A rider (helmet and torso) sitting at (x, y). */
function rider(r: Rng, x: number, y: number, size: number): string {
  const shirt = hsl(r.range(0, 360), r.range(20, 80), r.range(20, 60));
  return `<path d="M${f(x - size * 0.25)},${f(y)} L${f(x + size * 0.05)},${f(y - size)} L${f(x + size * 0.35)},${f(y - size * 0.95)} L${f(x + size * 0.3)},${f(y)} Z" fill="${shirt}"/><circle cx="${f(x + size * 0.2)}" cy="${f(y - size * 1.2)}" r="${f(size * 0.25)}" fill="${r.pick(['#222', '#ddd', '#b33', '#f2c9a0'])}"/>`;
}

/**
 * The vehicle's side, on a ground line at y = 0, facing +x, in units where its length is 100 (everything
 * per class: height, wheel count and radius, windows, cab and cargo). Returns its SVG and height.
 */
function vehicleSide(r: Rng, cls: VehicleClass, colour: { main: string; dark: string }, farSide: boolean): { svg: string; height: number } {
  const body = farSide ? colour.dark : colour.main;
  switch (cls) {
    case 'bicycle': {
      const rad = r.range(19, 24);
      const [a, b] = [rad, 100 - rad];
      const seatX = a + (b - a) * r.range(0.3, 0.42);
      const top = -rad * r.range(2.0, 2.4);
      const crank = (a + b) / 2;
      const frame = `<path d="M${f(a)},${f(-rad)} L${f(crank)},${f(-rad)} L${f(seatX)},${f(top)} Z M${f(crank)},${f(-rad)} L${f(b - 6)},${f(top)} L${f(seatX)},${f(top)} M${f(b)},${f(-rad)} L${f(b - 6)},${f(top - 6)}" fill="none" stroke="${body}" stroke-width="${f(r.range(2.5, 4))}" stroke-linejoin="round"/>`;
      const bits = `<rect x="${f(seatX - 7)}" y="${f(top - 4)}" width="14" height="3.5" rx="1.5" fill="#222"/><line x1="${f(b - 10)}" y1="${f(top - 6)}" x2="${f(b - 2)}" y2="${f(top - 8)}" stroke="#222" stroke-width="2.5"/>`;
      const person = r.chance(0.4) ? rider(r, seatX, top - 3, 34) : '';
      return { svg: wheel(a, rad, 'spoked') + wheel(b, rad, 'spoked') + frame + bits + person, height: person ? -top + 45 : -top + 8 };
    }
    case 'motorcycle': {
      const rad = r.range(15, 19);
      const [a, b] = [rad + 2, 100 - rad - 2];
      const seatY = -rad * r.range(2.1, 2.5);
      const tank = `<path d="M${f(a + 10)},${f(-rad * 1.4)} Q${f(a + 12)},${f(seatY - 4)} ${f(a + 30)},${f(seatY)} L${f(b - 22)},${f(seatY - 6)} Q${f(b - 10)},${f(seatY - 2)} ${f(b - 8)},${f(-rad * 1.5)} Z" fill="${body}"/>`;
      const engine = `<rect x="${f(a + 28)}" y="${f(-rad * 1.6)}" width="${f(b - a - 48)}" height="${f(rad * 0.9)}" rx="3" fill="#777"/>`;
      const fork = `<line x1="${f(b)}" y1="${f(-rad)}" x2="${f(b - 12)}" y2="${f(seatY - 12)}" stroke="#bbb" stroke-width="3"/><line x1="${f(b - 16)}" y1="${f(seatY - 14)}" x2="${f(b - 6)}" y2="${f(seatY - 12)}" stroke="#222" stroke-width="3"/>`;
      const exhaust = `<line x1="${f(a)}" y1="${f(-rad * 1.2)}" x2="${f(a + 40)}" y2="${f(-rad * 1.1)}" stroke="#ccc" stroke-width="3"/>`;
      const person = r.chance(0.55) ? rider(r, a + 36, seatY, 32) : '';
      return { svg: wheel(a, rad, 'solid') + wheel(b, rad, 'solid') + exhaust + tank + engine + fork + person, height: -seatY + (person ? 45 : 14) };
    }
    case 'car': {
      const rad = r.range(9, 12);
      const bodyTop = -r.range(24, 31);
      const bottom = -rad * 0.7;
      const cabinH = r.range(13, 19) * (r.chance(0.3) ? 1.25 : 1); // some SUVs
      const rearEnd = r.chance(0.35) ? r.range(6, 12) : r.range(20, 30); // hatchback vs saloon
      const c0 = rearEnd;
      const c1 = c0 + r.range(8, 14);
      const c2 = r.range(60, 68);
      const c3 = c2 + r.range(10, 16);
      const top = bodyTop - cabinH;
      const svg =
        `<path d="M2,${f(bottom)} L2,${f(bodyTop + 4)} Q2,${f(bodyTop)} 8,${f(bodyTop)} L${f(c0)},${f(bodyTop)} L${f(c1)},${f(top)} L${f(c2)},${f(top)} L${f(c3)},${f(bodyTop)} L94,${f(bodyTop + 2)} Q99,${f(bodyTop + 4)} 99,${f(bodyTop + 10)} L99,${f(bottom)} Z" fill="${body}"/>` +
        `<path d="M${f(c0 + 3)},${f(bodyTop - 1)} L${f(c1 + 1.5)},${f(top + 2.5)} L${f((c1 + c2) / 2 - 1)},${f(top + 2.5)} L${f((c1 + c2) / 2 - 1)},${f(bodyTop - 1)} Z M${f((c1 + c2) / 2 + 1)},${f(top + 2.5)} L${f(c2 - 1)},${f(top + 2.5)} L${f(c3 - 3)},${f(bodyTop - 1)} L${f((c1 + c2) / 2 + 1)},${f(bodyTop - 1)} Z" fill="${glass(r)}"/>` +
        `<circle cx="96" cy="${f(bodyTop + 6)}" r="2" fill="#ffe9a0"/><rect x="0" y="${f(bodyTop + 5)}" width="3" height="3" fill="#c22"/>` +
        wheel(r.range(16, 22), rad, 'solid') +
        wheel(r.range(76, 84), rad, 'solid');
      return { svg, height: -top };
    }
    case 'van': {
      const rad = r.range(9, 11.5);
      const roof = -r.range(44, 54);
      const bottom = -rad * 0.6;
      const nose = r.range(86, 92);
      const svg =
        `<path d="M1,${f(bottom)} L1,${f(roof + 2)} L${f(nose - 12)},${f(roof)} L${f(nose)},${f(roof * 0.45)} L99,${f(roof * 0.38)} L99,${f(bottom)} Z" fill="${body}"/>` +
        `<path d="M${f(nose - 13)},${f(roof + 3)} L${f(nose - 2)},${f(roof * 0.48)} L${f(nose - 13)},${f(roof * 0.48)} Z" fill="${glass(r)}"/>` +
        (r.chance(0.6) ? `<rect x="8" y="${f(roof + 4)}" width="${f(nose - 30)}" height="${f(-roof * 0.28)}" fill="${glass(r)}"/>` : '') +
        `<line x1="${f(nose - 30)}" y1="${f(roof + 4)}" x2="${f(nose - 30)}" y2="${f(bottom - 2)}" stroke="#333" stroke-width="0.8"/>` +
        `<circle cx="97" cy="${f(roof * 0.3)}" r="2" fill="#ffe9a0"/>` +
        wheel(r.range(14, 20), rad, 'solid') +
        wheel(r.range(78, 84), rad, 'solid');
      return { svg, height: -roof };
    }
    case 'bus': {
      const rad = r.range(5.5, 7.5);
      const roof = -r.range(26, 33);
      const bottom = -rad * 0.6;
      const windows: string[] = [];
      const n = r.int(6, 9);
      const g = glass(r);
      const winTop = roof + 3;
      const winH = -roof * r.range(0.3, 0.4);
      const span = 84 / n;
      for (let i = 0; i < n; i++) windows.push(`<rect x="${f(4 + i * span)}" y="${f(winTop)}" width="${f(span - 1.6)}" height="${f(winH)}" fill="${g}"/>`);
      const doorX = r.range(76, 84);
      const stripe = r.chance(0.5) ? `<rect x="1" y="${f(winTop + winH + 2)}" width="98" height="2.5" fill="${hsl(r.range(0, 360), 70, 50)}"/>` : '';
      const svg =
        `<rect x="1" y="${f(roof)}" width="98" height="${f(bottom - roof)}" rx="2.5" fill="${body}"/>` +
        windows.join('') +
        stripe +
        `<rect x="${f(doorX)}" y="${f(winTop)}" width="7" height="${f(bottom - winTop - 1)}" fill="#333" opacity="0.85"/>` +
        `<rect x="96" y="${f(winTop)}" width="3" height="${f(winH + 2)}" fill="${g}"/>` +
        wheel(r.range(12, 18), rad, 'solid') +
        (r.chance(0.35) ? wheel(r.range(24, 28), rad, 'solid') : '') +
        wheel(r.range(70, 76), rad, 'solid');
      return { svg, height: -roof };
    }
    case 'truck': {
      const rad = r.range(6.5, 9);
      const cabStart = r.range(70, 76);
      const cabTop = -r.range(34, 42);
      const boxTop = -r.range(40, 56);
      const bottom = -rad * 0.9;
      const cargo = hsl(r.range(0, 360), r.range(0, 40), r.range(55, 90));
      const kind = r.pick(['box', 'box', 'tanker', 'flatbed'] as const);
      const load =
        kind === 'box'
          ? `<rect x="1" y="${f(boxTop)}" width="${f(cabStart - 3)}" height="${f(bottom - 4 - boxTop)}" fill="${cargo}" stroke="#555" stroke-width="0.6"/>`
          : kind === 'tanker'
            ? `<rect x="2" y="${f(boxTop * 0.8)}" width="${f(cabStart - 5)}" height="${f(bottom - 4 - boxTop * 0.8)}" rx="${f(-boxTop * 0.3)}" fill="#ccc" stroke="#888"/>`
            : `<rect x="2" y="${f(bottom - 14)}" width="${f(cabStart - 5)}" height="6" fill="${cargo}"/><rect x="6" y="${f(bottom - 26)}" width="${f((cabStart - 12) / 2)}" height="12" fill="#8b5a2b"/>`;
      const svg =
        `<rect x="1" y="${f(bottom - 5)}" width="98" height="4" fill="#333"/>` +
        load +
        `<path d="M${f(cabStart)},${f(bottom)} L${f(cabStart)},${f(cabTop)} L94,${f(cabTop)} L99,${f(cabTop * 0.55)} L99,${f(bottom)} Z" fill="${body}"/>` +
        `<path d="M${f(cabStart + 12)},${f(cabTop + 3)} L93,${f(cabTop + 3)} L97,${f(cabTop * 0.6)} L${f(cabStart + 12)},${f(cabTop * 0.6)} Z" fill="${glass(r)}"/>` +
        wheel(r.range(8, 12), rad, 'solid') +
        wheel(r.range(8, 12) + rad * 2.2, rad, 'solid') +
        (r.chance(0.4) ? wheel(r.range(40, 50), rad, 'solid') : '') +
        wheel(r.range(84, 88), rad, 'solid');
      return { svg, height: -Math.min(boxTop, cabTop) };
    }
  }
}

/** Something in front of the vehicle (post, bush, sign, box) covering part of it. */
function occluder(r: Rng, x: number, groundY: number, size: number): string {
  const c = hsl(r.range(0, 360), r.range(0, 50), r.range(15, 60));
  switch (r.pick(['post', 'bush', 'sign', 'box'] as const)) {
    case 'post':
      return `<rect x="${f(x)}" y="${f(groundY - size * 1.5)}" width="${f(size * 0.12)}" height="${f(size * 1.6)}" fill="${c}"/>`;
    case 'bush':
      return [0, 1, 2].map((i) => `<circle cx="${f(x + i * size * 0.25)}" cy="${f(groundY - size * 0.2)}" r="${f(size * 0.28)}" fill="${hsl(r.range(80, 140), 50, r.range(20, 40))}"/>`).join('');
    case 'sign':
      return `<rect x="${f(x + size * 0.2)}" y="${f(groundY - size)}" width="${f(size * 0.06)}" height="${f(size)}" fill="#777"/><circle cx="${f(x + size * 0.23)}" cy="${f(groundY - size)}" r="${f(size * 0.22)}" fill="${c}" stroke="#fff" stroke-width="2"/>`;
    case 'box':
      return `<rect x="${f(x)}" y="${f(groundY - size * 0.5)}" width="${f(size * 0.6)}" height="${f(size * 0.55)}" fill="${c}"/>`;
  }
}

export interface Scene {
  cls: VehicleClass;
  domain: Domain;
  seed: number;
  /** Shift only this factor (the rest drawn as in training): for measuring which shift costs accuracy. */
  only?: ShiftFactor;
}

export interface Rendered {
  bytes: Buffer;
  format: 'jpeg' | 'png' | 'webp';
  width: number;
  height: number;
}

/** One picture of a vehicle of `cls`, fully determined by (cls, domain, seed). */
export async function render({ cls, domain, seed, only }: Scene): Promise<Rendered> {
  const r = new Rng(seed);
  const shift = shiftOf(domain, only);
  const w = r.int(112, 176);
  const h = Math.round(w * r.range(0.62, 0.95));
  const bg = background(r, shift.background, w, h);
  const colour = bodyColour(r, shift.colour);
  // Scale: vehicle length as a share of the width; the shifted set uses smaller and larger vehicles than training.
  const share = shift.scale ? (r.chance(0.5) ? r.range(0.38, 0.5) : r.range(0.9, 1.05)) : r.range(0.5, 0.9);
  const view = r.chance(shift.viewpoint ? 0.7 : 0.5) ? 'three-quarter' : 'side';
  const squash = view === 'side' ? 1 : shift.viewpoint ? r.range(0.55, 0.68) : r.range(0.68, 0.9);
  const skew = view === 'side' ? 0 : shift.viewpoint ? r.range(17, 24) : r.range(6, 17);
  const scale = (w * share) / 100 / squash ** 0.3;
  const mirror = r.chance(0.5);
  const rotation = r.range(-1, 1) * (shift.rotation ? 10 : 6);
  const side = vehicleSide(r, cls, colour, false);
  const depth = view === 'side' ? 0 : r.range(8, 16) * (cls === 'bicycle' || cls === 'motorcycle' ? 0.3 : 1);
  // Placement: mostly centred, sometimes cropped by the frame (up to ~15 % of the length).
  const length = 100 * scale * squash;
  const cx = w / 2 + r.range(-0.5, 0.5) * Math.max(0, w - length) + (r.chance(0.2) ? r.range(-0.15, 0.15) * length : 0);
  const groundY = Math.min(h - 2, bg.horizon + r.range(0.1, 0.9) * (h - bg.horizon)) + (r.chance(0.1) ? side.height * scale * 0.1 : 0);
  const far = depth > 0 ? `<g transform="translate(${f(depth)},${f(-depth * 0.5)})" opacity="0.9">${vehicleSide(new Rng(seed ^ 0x5bd1e995), cls, colour, true).svg}</g>` : '';
  const vehicle =
    `<g transform="translate(${f(cx)},${f(groundY)}) rotate(${f(rotation)}) scale(${mirror ? -1 : 1},1) skewY(${f(-skew)}) scale(${f(scale * squash)},${f(scale)}) translate(-50,0)">` +
    `<ellipse cx="50" cy="0" rx="56" ry="5" fill="#000" opacity="0.3"/>${far}${side.svg}</g>`;
  const occlusion = r.chance(shift.occlusion ? 0.45 : 0.3) ? occluder(r, cx + r.range(-0.5, 0.3) * length, groundY + 2, side.height * scale * r.range(0.6, 1.1)) : '';
  const grain = r.chance(0.3)
    ? `<defs><filter id="n"><feTurbulence type="fractalNoise" baseFrequency="0.9" seed="${r.int(0, 999)}"/><feColorMatrix type="saturate" values="0"/></filter></defs><rect width="${w}" height="${h}" filter="url(#n)" opacity="${r.range(0.05, 0.18).toFixed(2)}"/>`
    : '';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${bg.svg}${vehicle}${occlusion}${grain}</svg>`;

  // Lighting, blur, encoding: what a camera and an upload do to a picture.
  const brightness = shift.lighting ? (r.chance(0.5) ? r.range(0.45, 0.7) : r.range(1.25, 1.5)) : r.range(0.65, 1.3);
  let image = sharp(Buffer.from(svg), { density: 72 })
    .flatten({ background: '#808080' })
    .modulate({ brightness, saturation: r.range(0.6, 1.3) })
    .linear(r.range(0.8, 1.2), r.range(-15, 15));
  if (r.chance(0.3)) image = image.blur(r.range(0.4, 1.3));
  const format = r.chance(0.8) ? 'jpeg' : r.pick(['png', 'webp'] as const);
  const quality = r.int(30, 95);
  const encoded = format === 'jpeg' ? image.jpeg({ quality }) : format === 'webp' ? image.webp({ quality }) : image.png();
  return { bytes: await encoded.toBuffer(), format, width: w, height: h };
}
