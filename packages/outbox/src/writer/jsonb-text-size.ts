// The size a payload has on the wire. The relay publishes the payload as PostgreSQL prints the
// stored jsonb, not as the writer serialized it: a space after every ':' and ',', and numbers in
// plain decimal notation (1e+300 becomes 301 digits). The writer's limit, and so the consumer's
// matching `maxMessageBytes`, is measured on that text; otherwise a payload the writer accepted
// could arrive larger than the consumer allows.

/**
 * Counts, while `JSON.stringify` walks a value, the bytes PostgreSQL's jsonb output adds to the
 * compact JSON. Call {@link visit} from the replacer with its holder (`this`), key and the value
 * the replacer returns; one instance per stringify.
 */
export class JsonbTextSize {
  #extra = 0;
  #root = true;
  /**
   * The object JSON.stringify is about to write. The walk is depth-first, so the next member
   * visited with it as holder is its first one (no ', ' before it); later members find another
   * object here.
   */
  #opened: unknown;

  visit(holder: object, key: string, value: unknown): void {
    if (this.#root) {
      // The first call is for the wrapper { '': value } JSON.stringify makes around the value.
      this.#root = false;
    } else if (Array.isArray(holder)) {
      if (key !== '0') this.#extra += 1; // ', ' instead of ','
    } else {
      // JSON.stringify leaves such members out of objects.
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return;
      this.#extra += holder === this.#opened ? 1 : 2; // ': ', and ', ' before it unless it is the first
      this.#opened = undefined;
    }
    if (typeof value === 'number' && Number.isFinite(value)) this.#extra += decimalExpansion(value);
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) this.#opened = value;
  }

  /** Bytes of the jsonb text of a value whose compact JSON has `compactBytes` bytes. */
  total(compactBytes: number): number {
    return compactBytes + this.#extra;
  }
}

/**
 * Extra characters PostgreSQL's numeric output has over JavaScript's shortest form, which uses an
 * exponent for magnitudes ≥ 1e21 or < 1e-6: "1e+21" is printed as 22 digits, "1.5e-7" as "0.00000015".
 */
export function decimalExpansion(value: number): number {
  const text = String(Math.abs(value));
  const e = text.indexOf('e');
  if (e < 0) return 0;
  const mantissa = text.slice(0, e);
  const point = mantissa.indexOf('.');
  const digits = point < 0 ? mantissa : mantissa.slice(0, point) + mantissa.slice(point + 1);
  const integerDigits = (point < 0 ? mantissa.length : point) + Number(text.slice(e + 1));
  let decimal: number;
  if (integerDigits >= digits.length)
    decimal = integerDigits; // the digits, then zeros
  else if (integerDigits <= 0)
    decimal = 2 - integerDigits + digits.length; // "0.", zeros, the digits
  else decimal = digits.length + 1; // a point among the digits
  return decimal - text.length;
}
