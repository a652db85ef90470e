/** A failure the demo explains by itself: printed as one message, without a stack trace. */
export class DemoError extends Error {
  override name = 'DemoError';
}
