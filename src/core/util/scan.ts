// Character scans for text parsed every second (procfs, nvidia-smi lines): an index moved past a
// run of characters, no RegExp and no substring per step.

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const SPACE = 0x20;
const TAB = 0x09;

/** The index after the ASCII digits that start at `i` (`i` itself when there are none). */
export function skipDigits(text: string, i: number): number {
  while (i < text.length && text.charCodeAt(i) >= DIGIT_0 && text.charCodeAt(i) <= DIGIT_9) i++;
  return i;
}

/** The index after the spaces and tabs that start at `i`. */
export function skipBlanks(text: string, i: number): number {
  while (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB) i++;
  return i;
}
