import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ForbiddenError } from '../errors/forbidden-error';
import { UnauthorizedError } from '../errors/unauthorized-error';

export type Scope = 'predict' | 'admin';

interface KeyEntry {
  /** Names the caller in logs and audit records; never the key. */
  id: string;
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A configured key: `id:key` names its caller (`API_KEYS_ADMIN=ops:<key>`); a bare key is named by a
 * fingerprint of its digest (`key-1a2b3c4d`), so logs can tell callers apart without holding the key.
 */
export function parseKeyEntry(entry: string): { id: string; key: string } {
  const colon = entry.indexOf(':');
  if (colon > 0 && KEY_ID.test(entry.slice(0, colon))) return { id: entry.slice(0, colon), key: entry.slice(colon + 1) };
  return { id: `key-${digest(entry).toString('hex').slice(0, 8)}`, key: entry };
}

/** The id of the key that authenticated this request, if any. */
export function callerOf(res: Response): string | undefined {
  const id: unknown = res.locals['caller'];
  return typeof id === 'string' ? id : undefined;
}

/** The key a request presents: `X-API-Key`, else `Authorization: Bearer <key>`. */
function presentedKey(req: Request): string | undefined {
  const header = req.get('x-api-key');
  if (header) return header;
  const auth = req.get('authorization');
  const match = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return match?.[1];
}

/**
 * Optional API keys with two scopes: `predict` keys may call the prediction routes, `admin` keys may also
 * reload models. With no keys configured every route is open (development); the service says so loudly.
 * Keys are compared as sha256 digests in constant time, against every configured key, with no early exit.
 */
export class ApiKeyAuth {
  private readonly keys: KeyEntry[];

  constructor(options: { predictKeys: readonly string[]; adminKeys: readonly string[] }) {
    const entry = (configured: string, scopes: Scope[]): KeyEntry => {
      const { id, key } = parseKeyEntry(configured);
      return { id, digest: digest(key), scopes: new Set(scopes) };
    };
    this.keys = [...options.predictKeys.map((k) => entry(k, ['predict'])), ...options.adminKeys.map((k) => entry(k, ['predict', 'admin']))];
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** The presented key's entry; undefined when no key, or an unknown one, was presented. */
  private entryOf(req: Request): KeyEntry | undefined {
    const key = presentedKey(req);
    if (key === undefined) return undefined;
    const presented = digest(key);
    let found: KeyEntry | undefined;
    for (const entry of this.keys) {
      if (timingSafeEqual(entry.digest, presented) && found === undefined) found = entry;
    }
    return found;
  }

  /** Scopes of the presented key; undefined when no key, or an unknown one, was presented. */
  scopesOf(req: Request): ReadonlySet<Scope> | undefined {
    return this.entryOf(req)?.scopes;
  }

  /**
   * Middleware for a route: 401 without a valid key, 403 when the key lacks `scope`. With auth off it is no
   * middleware at all (an empty list), so open routes pay nothing for it.
   */
  require(scope: Scope | 'any'): RequestHandler[] {
    if (!this.enabled) return [];
    return [this.check(scope)];
  }

  private check(scope: Scope | 'any'): RequestHandler {
    return (req, res, next) => {
      const entry = this.entryOf(req);
      if (entry) res.locals['caller'] = entry.id;
      if (!entry) next(new UnauthorizedError());
      else if (scope !== 'any' && !entry.scopes.has(scope)) next(new ForbiddenError(scope));
      else next();
    };
  }
}
