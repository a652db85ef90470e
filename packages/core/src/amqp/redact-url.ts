const SECRET_PARAMS = ['password', 'pass', 'passwd', 'secret', 'token', 'sslpassword'];

/**
 * Returns the URL with any password replaced, safe to log or put in an error message:
 * the userinfo password and secret-looking query parameters (pg accepts `?password=`).
 * Also works on free text that contains URLs, such as a driver's error message.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:' && !parsed.host) throw new Error('not a URL');
    if (parsed.password) parsed.password = '***';
    for (const name of SECRET_PARAMS) if (parsed.searchParams.has(name)) parsed.searchParams.set(name, '***');
    return parsed.toString();
  } catch {
    return redactText(url);
  }
}

/** The free-text half of {@link redactUrl}: replaces passwords in every URL inside `text` without re-serializing anything. */
export function redactText(text: string): string {
  return text
    .replace(/(\/\/[^\s:@/]*:)[^\s@/]*@/g, '$1***@')
    .replace(new RegExp(`([?&](?:${SECRET_PARAMS.join('|')})=)[^&\\s]*`, 'gi'), '$1***');
}
