// The CLI's outcome classification lives in the engine (src/core/outcome.ts), shared with the
// extension's trackers; re-exported here for the CLI's modules.
export { classifyOutcome, OutputTail, outputErrorCategory, signalNumber, type ChildEnd, type Outcome } from '../core/runs/outcome';
