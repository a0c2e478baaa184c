// The text of a caught value for a log line or a message to the user: an Error's message, or the
// value itself (a rejected promise may carry a string, a number, anything).

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
