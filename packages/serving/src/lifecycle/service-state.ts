/** Whether the process is draining; read by readiness and the HTTP layer. */
export class ServiceState {
  readonly startedAt = new Date();
  private isDraining = false;

  get draining(): boolean {
    return this.isDraining;
  }

  startDraining(): void {
    this.isDraining = true;
  }
}
