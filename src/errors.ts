/**
 * A bad option, flag, variable or file given at start-up: start-up stops
 * with its message (which names what to change) and exit code 2.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
