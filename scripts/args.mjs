// Command-line flags for the bench scripts: each flag with a way to take the value after it.

/**
 * Yields `[flag, value]` for each argument; calling `value()` takes the next argument as the
 * flag's value (so it is not yielded itself) and calls `fail` when there is none.
 */
export function* flagsOf(argv, fail) {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    yield [
      flag,
      () => {
        const v = argv[++i];
        if (v === undefined) fail(`${flag} needs a value`);
        return v;
      },
    ];
  }
}
