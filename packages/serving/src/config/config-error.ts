/** A bad environment: names every variable at fault and why. Thrown before anything starts. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: readonly { variable: string; reason: string }[];

  constructor(problems: { variable: string; reason: string }[]) {
    super(`invalid configuration: ${problems.map((p) => `${p.variable}: ${p.reason}`).join('; ')}`);
    this.problems = problems;
  }
}
