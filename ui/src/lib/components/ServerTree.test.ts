import { render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import ServerTree from "./ServerTree.svelte";

describe("ServerTree", () => {
  it("shows the empty state and no controls", () => {
    render(ServerTree);
    const tree = screen.getByTestId("server-tree");
    expect(screen.getByText("No servers yet.")).toBeTruthy();
    expect(screen.getByText("Add a server to see its databases here.")).toBeTruthy();
    expect(tree.querySelectorAll("button, a, input")).toHaveLength(0);
  });
});
