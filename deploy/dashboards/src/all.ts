import type { DashboardSpec } from "./common.js";
import { controller } from "./controller.js";
import { distribution } from "./distribution.js";
import { edge } from "./edge.js";
import { overview } from "./overview.js";
import { shield } from "./shield.js";

/** Every dashboard streamfront ships, in the order the README lists them. */
export const dashboards: readonly DashboardSpec[] = [overview, edge, shield, controller, distribution];
