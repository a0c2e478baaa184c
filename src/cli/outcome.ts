// The CLI's outcome classification lives in the engine (src/core/runs/outcome.ts), shared with the
// extension's trackers; re-exported here for the CLI's modules. `classifyOutcome` strips colour
// codes itself, so the raw bytes of `model-perf run`'s child can be handed to it as they are.
export { classifyOutcome, OutputTail,  signalNumber,  type ChildEnd,  } from '../core/runs/outcome';
