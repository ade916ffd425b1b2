import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ForbiddenError } from '../errors/forbidden-error';
import { UnauthorizedError } from '../errors/unauthorized-error';

export type Scope = 'predict' | 'admin';

interface KeyEntry {
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

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
    this.keys = [
      ...options.predictKeys.map((k) => ({ digest: digest(k), scopes: new Set<Scope>(['predict']) })),
      ...options.adminKeys.map((k) => ({ digest: digest(k), scopes: new Set<Scope>(['predict', 'admin']) })),
    ];
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** Scopes of the presented key; undefined when no key, or an unknown one, was presented. */
  scopesOf(req: Request): ReadonlySet<Scope> | undefined {
    const key = presentedKey(req);
    if (key === undefined) return undefined;
    const presented = digest(key);
    let found: ReadonlySet<Scope> | undefined;
    for (const entry of this.keys) {
      if (timingSafeEqual(entry.digest, presented) && found === undefined) found = entry.scopes;
    }
    return found;
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
    return (req, _res, next) => {
      const scopes = this.scopesOf(req);
      if (!scopes) next(new UnauthorizedError());
      else if (scope !== 'any' && !scopes.has(scope)) next(new ForbiddenError(scope));
      else next();
    };
  }
}
