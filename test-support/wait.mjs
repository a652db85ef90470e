// @ts-check
// Waiting in tests, the bench and chaos tools (types and documentation in wait.d.mts).

/** @type {import('./wait.d.mts').waitUntil} */
export async function waitUntil(what, condition, { timeoutMs = 30_000, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    }
    await sleep(intervalMs);
  }
}

/** @type {import('./wait.d.mts').withDeadline} */
export async function withDeadline(promise, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  /** @type {Promise<never>} */
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** @type {import('./wait.d.mts').sleep} */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
