/** Variables a shell and common build tools need to behave; nothing else is passed on. */
const KEEP = new Set([
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TERM', 'TMPDIR', 'TMP', 'TEMP',
  'NODE_ENV', 'NVM_DIR', 'NVM_BIN', 'COREPACK_HOME', 'npm_config_cache', 'XDG_CACHE_HOME', 'XDG_CONFIG_HOME',
]);
const KEEP_PREFIXES = ['LC_'];

/**
 * Names that carry credentials, dropped even when someone adds them to KEEP:
 * the orchestrator's own keys must never reach a command the model wrote.
 */
const SECRET = /^(ANTHROPIC_|REDIS_|AWS_|GITHUB_|GH_|NPM_TOKEN|ORCH_)|(_KEY|_TOKEN|_SECRET|_PASSWORD|_PASS|_CREDENTIALS?|_AUTH)$/i;

/** Keeps a command from waiting on a prompt nobody will answer. */
const NON_INTERACTIVE: Record<string, string> = { GIT_TERMINAL_PROMPT: '0', PAGER: 'cat', GIT_PAGER: 'cat' };

/**
 * The environment of the Bash tool, built from the orchestrator's own: an
 * allow-list (PATH, HOME, locale, temp dirs) minus anything that looks like a
 * secret, plus settings that make tools non-interactive. `keep` adds names a
 * deployment needs (proxies, say); secrets are dropped even then.
 *
 * @example
 * const env = sandboxEnv(process.env); // no ANTHROPIC_API_KEY, no REDIS_URL
 */
export function sandboxEnv(
  processEnv: Readonly<Record<string, string | undefined>>,
  keep: readonly string[] = [],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(processEnv)) {
    if (value === undefined || SECRET.test(name)) continue;
    if (KEEP.has(name) || keep.includes(name) || KEEP_PREFIXES.some((p) => name.startsWith(p))) env[name] = value;
  }
  return { ...env, ...NON_INTERACTIVE };
}
