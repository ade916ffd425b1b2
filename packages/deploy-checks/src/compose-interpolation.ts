/**
 * Compose's variable interpolation (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
 * `${VAR?error}`, `$$` for a literal `$`), applied to every string of a parsed compose file, as
 * `docker compose config` does. Records every variable referenced.
 */
export function interpolate(value: unknown, env: Readonly<Record<string, string>>, referenced = new Set<string>()): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (match, name: string | undefined, op: string | undefined, arg: string | undefined) => {
      if (match === '$$') return '$';
      if (name === undefined) return match;
      referenced.add(name);
      const set = Object.hasOwn(env, name);
      const current = env[name] ?? '';
      const unsetOrEmpty = !set || current === '';
      if (op === ':-') return unsetOrEmpty ? (arg ?? '') : current;
      if (op === '-') return set ? current : (arg ?? '');
      if (op === ':?' && unsetOrEmpty) throw new Error(`required variable ${name} is missing a value: ${arg ?? ''}`);
      if (op === '?' && !set) throw new Error(`required variable ${name} is unset: ${arg ?? ''}`);
      return current;
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env, referenced));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, referenced)]));
  }
  return value;
}

/** KEY=value lines of a .env file (comments and blank lines skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined) env[match[1]] = match[2] ?? '';
  }
  return env;
}
