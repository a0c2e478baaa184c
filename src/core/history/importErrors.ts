// The two ways an import stops: the file cannot be read at all (ImportError, thrown to the caller),
// or its structure is damaged at some point (FileFormatError, caught and reported with the records
// read before it).

/** The file cannot be read at all (missing, a folder, a pipe, unreadable): nothing was imported. */
export class ImportError extends Error {
  constructor(
    readonly path: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'ImportError';
  }
}

/** Structural damage: reading stops here. */
export class FileFormatError extends Error {}
