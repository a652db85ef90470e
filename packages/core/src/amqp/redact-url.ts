/** Returns the URL with any password replaced, safe to log or put in an error message. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL we can parse: hide everything between "://" and "@", if present.
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
