/**
 * A failure the proxy answers with a given HTTP status and a JSON `{"error": ...}` body.
 */

/** An error that maps to one HTTP status; its message is the `error` text the client sees. */
export class ProxyHttpError extends Error {
  /** HTTP status to answer with (400, 401, 403, 404, 405, 413, 415, 429, 500, 501, 503, 504). */
  readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 429 | 500 | 501 | 503 | 504

  /**
   * @param status the HTTP status
   * @param message the client-facing text; Redis errors keep Redis's own text and prefix
   */
  constructor(status: ProxyHttpError['status'], message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ProxyHttpError'
    this.status = status
  }
}
