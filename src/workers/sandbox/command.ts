/** How one command is started: the program, its arguments, its environment. */
export interface SandboxedCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** The working directory of the spawned process (outside the sandbox). */
  cwd: string;
  /** Spawn as this uid and gid (Node's spawn options), when present: the `uid` process-limit mechanism. */
  uid?: number;
  gid?: number;
  /**
   * To call once the process has exited (normally or killed), when present:
   * it removes what was made for this one command (its process-limit cgroup).
   */
  release?: () => Promise<void>;
}
