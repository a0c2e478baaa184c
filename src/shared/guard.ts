// Tiny runtime checkers for data that crosses a trust boundary (postMessage between the extension
// host and the dashboard webview). Each checker returns the value typed or throws a GuardError that
// names the path of the first bad field, so a rejected message can be logged with its reason.
// Pure: no node, no vscode, no DOM.

export class GuardError extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
    got: unknown,
  ) {
    super(`${path || 'message'}: expected ${expected}, got ${describe(got)}`);
    this.name = 'GuardError';
  }
}

/** A short, safe description of a bad value for logs (never the whole value). */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  switch (typeof v) {
    case 'string':
      return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
    case 'number':
      return String(v);
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

export type Check<T> = (value: unknown, path: string) => T;

/** Longest string accepted anywhere in the protocol: long enough for any name, short enough to render. */
const MAX_STRING_LENGTH = 4096;

export const num: Check<number> = (v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new GuardError(p, 'a finite number', v);
  return v;
};

export const int: Check<number> = (v, p) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new GuardError(p, 'a whole number', v);
  return v;
};

export const bool: Check<boolean> = (v, p) => {
  if (typeof v !== 'boolean') throw new GuardError(p, 'true or false', v);
  return v;
};

export function str(maxLength = MAX_STRING_LENGTH): Check<string> {
  return (v, p) => {
    if (typeof v !== 'string') throw new GuardError(p, 'a string', v);
    if (v.length > maxLength) throw new GuardError(p, `a string of at most ${maxLength} characters`, v);
    return v;
  };
}

export const text = str();

export function oneOf<const T extends readonly (string | number)[]>(values: T): Check<T[number]> {
  return (v, p) => {
    if (!(values as readonly unknown[]).includes(v)) throw new GuardError(p, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v);
    return v as T[number];
  };
}

export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, p) => (v === null ? null : check(v, p));
}

export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v, p) => (v === undefined ? undefined : check(v, p));
}

export function arr<T>(check: Check<T>, maxLength = 1_000_000): Check<T[]> {
  return (v, p) => {
    if (!Array.isArray(v)) throw new GuardError(p, 'an array', v);
    if (v.length > maxLength) throw new GuardError(p, `an array of at most ${maxLength} items`, v);
    const out = new Array<T>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = check(v[i], `${p}[${i}]`);
    return out;
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Exactly two of a kind (a pair the page picked, such as the two runs it compares). */
export function pair<T>(check: Check<T>): Check<[T, T]> {
  return (v, p) => {
    if (!Array.isArray(v) || v.length !== 2) throw new GuardError(p, 'a list of exactly two', v);
    return [check(v[0], `${p}[0]`), check(v[1], `${p}[1]`)];
  };
}

export type Shape<T> = { [K in keyof T]-?: Check<T[K]> };

/**
 * An object with exactly the checked fields. `strict` rejects unknown keys (for what the webview
 * sends: it is the less trusted side); without it unknown keys are dropped, so the host may grow
 * a record type without breaking an older bundle.
 */
export function obj<T>(shape: Shape<T>, { strict = false }: { strict?: boolean } = {}): Check<T> {
  const keys = Object.keys(shape) as (keyof T & string)[];
  return (v, p) => {
    if (!isPlainObject(v)) throw new GuardError(p, 'an object', v);
    if (strict) {
      for (const k of Object.keys(v)) if (!Object.prototype.hasOwnProperty.call(shape, k)) throw new Error(`${join(p, k)}: unexpected field`);
    }
    const out = {} as T;
    for (const k of keys) {
      const value = (shape[k] as Check<T[typeof k]>)(v[k], join(p, k));
      if (value !== undefined) out[k] = value;
    }
    return out;
  };
}

/** A string-keyed map of one value type (keys are data: stored with defineProperty, never merged). */
export function record<T>(check: Check<T>, maxKeys = 10_000): Check<Record<string, T>> {
  return (v, p) => {
    if (!isPlainObject(v)) throw new GuardError(p, 'an object', v);
    const entries = Object.entries(v);
    if (entries.length > maxKeys) throw new GuardError(p, `at most ${maxKeys} keys`, v);
    // defineProperty keeps a key such as "__proto__" an own data property instead of a prototype.
    const out: Record<string, T> = {};
    for (const [k, value] of entries) {
      if (k.length > MAX_STRING_LENGTH) throw new GuardError(p, 'keys of at most 4096 characters', k);
      Object.defineProperty(out, k, { value: check(value, `${p}[${JSON.stringify(k.slice(0, 40))}]`), enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
}

/** A discriminated union on `type`: the tag picks the checker, an unknown tag is an error. */
export function tagged<T extends { type: string }>(variants: { [K in T['type']]: Check<Extract<T, { type: K }>> }): Check<T> {
  const table = variants as Record<string, Check<T>>;
  return (v, p) => {
    if (!isPlainObject(v)) throw new GuardError(p, 'an object with a "type"', v);
    const tag = v.type;
    if (typeof tag !== 'string' || !Object.prototype.hasOwnProperty.call(table, tag)) {
      throw new GuardError(p ? `${p}.type` : 'type', `one of ${Object.keys(table).map((k) => JSON.stringify(k)).join(', ')}`, tag);
    }
    return (table[tag] as Check<T>)(v, p);
  };
}

export type ParseResult<T> = { ok: true; msg: T } | { ok: false; error: string };

/** Runs a checker and turns a GuardError (or any throw) into a result. */
export function parseWith<T>(check: Check<T>, value: unknown): ParseResult<T> {
  try {
    return { ok: true, msg: check(value, '') };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
