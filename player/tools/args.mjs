/**
 * Command-line options of the player's tools, read by a table instead of an if-chain per tool.
 */

/**
 * Reads `argv` into `options`: `table` maps an argument to `[key]` (`--name value`, the value as
 * given), `[key, convert]` (the value converted) or `[key, convert, false]` (a flag: `convert()`,
 * no value read). `--help`/`-h` prints the usage and exits 0; an unknown argument exits 2.
 * @param {string[]} argv
 * @param {{ prog: string, usage: string, table: Record<string, [string, ((value?: string) => unknown)?, boolean?]>, options?: Record<string, unknown> }} spec
 */
export function parseArgs(argv, { prog, usage, table, options = {} }) {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const entry = Object.hasOwn(table, arg) ? table[arg] : undefined;
    if (entry) {
      const [key, convert = (value) => value, takesValue = true] = entry;
      options[key] = takesValue ? convert(argv[++i]) : convert();
    } else if (arg === '--help' || arg === '-h') {
      console.log(`usage: ${prog} ${usage}`);
      process.exit(0);
    } else {
      console.error(`${prog.replace(/\.mjs$/, '')}: unknown argument ${arg}`);
      process.exit(2);
    }
  }
  return options;
}
