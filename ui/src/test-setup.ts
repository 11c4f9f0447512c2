import { cleanup } from "@testing-library/svelte";
import { afterEach } from "vitest";

// Unmount components rendered by a test before the next one starts.
afterEach(() => cleanup());
