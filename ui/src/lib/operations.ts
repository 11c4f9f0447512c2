import { cancelOperation } from "$lib/ipc";

/**
 * Asks the backend to stop a running operation (backup, restore, drill). Retried for a few
 * seconds, since a click right after the start may come before the operation has registered;
 * gives up as soon as `stillRunning()` says the operation ended anyway.
 */
export async function requestCancel(operationId: string, stillRunning: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      if (await cancelOperation(operationId)) return;
    } catch {
      // Keep trying while the operation runs.
    }
    if (!stillRunning()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (!stillRunning()) return;
  }
}
