/**
 * The HTTP requests of one remote run that are in flight, by the branch each decodes, so that a
 * halt, a shared limit or a cancelled branch aborts exactly the requests concerned (the server
 * then stops them and frees what they held).
 */
export class InFlight {
  private readonly open = new Map<AbortController, string>();
  private readonly cancelled = new Set<string>();

  /** The controller of a new request of `branch`; end() it when the request is over. */
  start(branch: string): AbortController {
    const controller = new AbortController();
    this.open.set(controller, branch);
    return controller;
  }

  end(controller: AbortController): void {
    this.open.delete(controller);
  }

  abortAll(): void {
    for (const controller of this.open.keys()) controller.abort();
  }

  /** Aborts the requests of `branch` and of every branch nested in it, now and from now on. */
  cancelBranch(branch: string): void {
    this.cancelled.add(branch);
    for (const [controller, b] of this.open) if (within(b, branch)) controller.abort();
  }

  /** True when `branch` or one of its ancestors was cancelled. */
  isCancelled(branch: string): boolean {
    return [...this.cancelled].some((b) => within(branch, b));
  }
}

/** `branch` is `ancestor` or nested in it. */
function within(branch: string, ancestor: string): boolean {
  return branch === ancestor || branch.startsWith(`${ancestor}/`);
}
