import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { diagnostics, IpcError } from "$lib/ipc";
import { deferred } from "$lib/ipc/mock";
import HelpMenu from "./HelpMenu.svelte";

vi.mock("$lib/ipc", (importOriginal) => import("$lib/ipc/mock").then((m) => m.mockIpc(importOriginal)));

const mockedDiagnostics = vi.mocked(diagnostics);
const REPORT = "Lifeboat diagnostic information\n[Lifeboat]\n  version: 0.1.0\n";
const writeText = vi.fn<(text: string) => Promise<void>>();

async function openHelp() {
  render(HelpMenu);
  await fireEvent.click(screen.getByTestId("help-button"));
  return screen.getByTestId("help-dialog");
}

describe("HelpMenu", () => {
  beforeEach(() => {
    mockedDiagnostics.mockReset();
    writeText.mockReset();
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
  });

  afterEach(() => {
    Reflect.deleteProperty(navigator, "clipboard");
  });

  it("opens a dialog from the top bar button and closes it", async () => {
    expect(screen.queryByTestId("help-dialog")).toBeNull();
    const dialog = await openHelp();
    expect(dialog.getAttribute("role")).toBe("dialog");
    expect(dialog.textContent).toContain("no passwords");
    await fireEvent.click(screen.getByTestId("help-close"));
    expect(screen.queryByTestId("help-dialog")).toBeNull();
    expect(mockedDiagnostics).not.toHaveBeenCalled();
  });

  it("copies the report to the clipboard and says so", async () => {
    const report = deferred<string>();
    mockedDiagnostics.mockReturnValue(report.promise);
    writeText.mockResolvedValue(undefined);
    await openHelp();
    await fireEvent.click(screen.getByTestId("help-copy"));
    expect(screen.getByTestId("help-status").textContent).toContain("Collecting…");
    expect((screen.getByTestId("help-copy") as HTMLButtonElement).disabled).toBe(true);
    report.resolve(REPORT);
    await waitFor(() => expect(screen.getByTestId("help-status").textContent).toContain("Copied"));
    expect(writeText).toHaveBeenCalledWith(REPORT);
    expect(screen.queryByTestId("help-report")).toBeNull();
  });

  it("shows the report as selectable text when the clipboard is refused", async () => {
    mockedDiagnostics.mockResolvedValue(REPORT);
    writeText.mockRejectedValue(new DOMException("Write permission denied.", "NotAllowedError"));
    await openHelp();
    await fireEvent.click(screen.getByTestId("help-copy"));
    const area = (await screen.findByTestId("help-report")) as HTMLTextAreaElement;
    expect(area.value).toBe(REPORT);
    expect(area.readOnly).toBe(true);
    expect(screen.getByTestId("help-clipboard-refused").textContent).toContain("Select the text below");
    expect(screen.getByTestId("help-status").textContent).not.toContain("Copied");
  });

  it("shows the report without copying it on request", async () => {
    mockedDiagnostics.mockResolvedValue(REPORT);
    await openHelp();
    await fireEvent.click(screen.getByTestId("help-show"));
    const area = (await screen.findByTestId("help-report")) as HTMLTextAreaElement;
    expect(area.value).toBe(REPORT);
    expect(writeText).not.toHaveBeenCalled();
    expect(screen.queryByTestId("help-clipboard-refused")).toBeNull();
  });

  it("shows why the report could not be made", async () => {
    mockedDiagnostics.mockRejectedValue(
      new IpcError({ code: "store", message: "The catalog cannot be used.", hint: "Check the disk." }),
    );
    await openHelp();
    await fireEvent.click(screen.getByTestId("help-copy"));
    const error = await screen.findByTestId("help-error");
    expect(error.textContent).toContain("The catalog cannot be used.");
    expect(error.textContent).toContain("Check the disk.");
    expect(writeText).not.toHaveBeenCalled();
  });
});
