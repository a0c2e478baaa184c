// The text of a caught value for a log line or a message to the user: an Error's message, or the
// value itself (a rejected promise may carry a string, a number, anything).

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An errno in words a user can act on. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'the folder does not exist';
    case 'ENOTDIR':
      return 'part of the path is a file, not a folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'the disk is full';
    case 'EDQUOT':
      return 'the disk quota is exhausted';
    case 'EROFS':
      return 'the file system is read-only';
    case 'EISDIR':
      return 'the path is a folder';
    default:
      return e?.message ?? String(err);
  }
}
