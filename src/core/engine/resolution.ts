// Normalises the many spellings of a video resolution (720p, 1280x720, 1280×720, HD, 1280x704)
// to one class named by its short side, so targets and breakdowns do not split on spelling.
// The original matched only the literal strings `720p` / `1080p`.

/** Standard classes by short side, in pixels. */
const STANDARD_SHORT_SIDES = [144, 240, 360, 480, 540, 576, 720, 1080, 1440, 2160, 4320] as const;

const NAMED: Record<string, number> = {
  sd: 480,
  ntsc: 480,
  pal: 576,
  hd: 720,
  hdready: 720,
  fhd: 1080,
  fullhd: 1080,
  qhd: 1440,
  wqhd: 1440,
  '2k': 1440,
  uhd: 2160,
  '4k': 2160,
  uhd4k: 2160,
  '8k': 4320,
};

/** Models often render at sizes a few pixels off a standard (1280x704); within 5 % snaps to it. */
const SNAP_TOLERANCE = 0.05;

function classForShortSide(shortSide: number): string {
  let best: number | null = null;
  for (const std of STANDARD_SHORT_SIDES) {
    if (Math.abs(shortSide - std) / std <= SNAP_TOLERANCE) {
      if (best === null || Math.abs(shortSide - std) < Math.abs(shortSide - best)) best = std;
    }
  }
  return `${best ?? shortSide}p`;
}

/**
 * `720p`, `720P`, `720i`, `1280x720`, `1280 × 720`, `720x1280` (portrait), `HD`, `Full HD`, `4K`
 * -> `720p` / `1080p` / `2160p`... Null when the string names no resolution.
 */
export function normalizeResolution(input: string): string | null {
  const text = input.trim().toLowerCase();
  if (text === '') return null;
  const dims = /^(\d{2,5})\s*[x×*]\s*(\d{2,5})$/.exec(text);
  if (dims) {
    const w = Number(dims[1]);
    const h = Number(dims[2]);
    if (w <= 0 || h <= 0) return null;
    return classForShortSide(Math.min(w, h));
  }
  const lines = /^(\d{2,5})\s*[pi]$/.exec(text);
  if (lines) {
    const h = Number(lines[1]);
    return h > 0 ? classForShortSide(h) : null;
  }
  // Own keys only: a resolution such as "__proto__" or "constructor" comes from users.
  const key = text.replace(/[\s_-]+/g, '');
  const named = Object.hasOwn(NAMED, key) ? NAMED[key] : undefined;
  return named === undefined ? null : `${named}p`;
}

/** The class when recognised, else the trimmed original string, so unknown spellings still group. */
export function resolutionKey(resolution: string, resolutionClass: string | null): string {
  return resolutionClass ?? resolution.trim();
}
