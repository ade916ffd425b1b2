/** Whether the process is draining; read by readiness and the HTTP layer. */
export class ServiceState {
  readonly startedAt = new Date();
  private drainingSince: Date | undefined;

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  startDraining(): void {
    this.drainingSince ??= new Date();
  }
}
