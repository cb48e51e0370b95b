// The commands that enrol a host's agent with an enrolment token.

// Words made only of these need no quoting in a POSIX shell.
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `word` as one POSIX shell word: as it is when safe, else single-quoted. */
export function shellQuote(word: string): string {
  if (SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The one-line install: fetch the install script from this control plane and enrol (through sudo, or as
 * root for a root shell that has no sudo, as minimal server images often do). */
export function installCommand(origin: string, token: string, { asRoot = false } = {}): string {
  const shell = asRoot ? 'bash' : 'sudo bash';
  return `curl -fsSL ${shellQuote(`${origin}/agent/install.sh`)} | ${shell} -s -- --token ${shellQuote(token)}`;
}

/** Enrolment on a host where the agent is already installed. */
export function enrollCommand(origin: string, token: string): string {
  return `fleetvisor-agent enroll --url ${shellQuote(origin)} --token ${shellQuote(token)}`;
}

/** Lifetimes offered for a new enrolment token, in seconds (default: 1 hour). */
export const TOKEN_LIFETIMES: ReadonlyArray<{ seconds: number; label: string }> = [
  { seconds: 900, label: '15 minutes' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 86_400, label: '1 day' },
  { seconds: 604_800, label: '7 days' },
];

export const DEFAULT_TOKEN_LIFETIME_S = 3600;
