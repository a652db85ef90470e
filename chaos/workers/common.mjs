// Shared bits of the chaos worker processes: env parsing and a logger that keeps warnings
// (with their fields) on stderr, where the orchestrator writes them to the run's log files.
export function required(name) {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`missing env ${name}\n`);
    process.exit(2);
  }
  return value;
}

export const number = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const stamp = () => new Date().toISOString().slice(11, 23);

export function stderrLogger(onWarn = () => {}) {
  return {
    debug() {},
    info: (msg, fields) => process.stderr.write(`${stamp()} INFO ${msg} ${JSON.stringify(fields ?? {})}\n`),
    warn: (msg, fields) => {
      onWarn(msg, fields ?? {});
      process.stderr.write(`${stamp()} WARN ${msg} ${JSON.stringify(fields ?? {})}\n`);
    },
    error: (msg, fields) => process.stderr.write(`${stamp()} ERROR ${msg} ${JSON.stringify(fields ?? {})}\n`),
  };
}

/** Any crash of a worker is a finding: print it where the orchestrator keeps it, then die. */
export function reportCrashes(name) {
  for (const event of ['uncaughtException', 'unhandledRejection']) {
    process.on(event, (error) => {
      process.stderr.write(`${stamp()} CRASH ${name} ${event}: ${error?.stack ?? String(error)}\n`);
      process.stdout.write(`CRASH ${event} ${JSON.stringify(String(error?.message ?? error))}\n`);
      process.exit(70);
    });
  }
}
