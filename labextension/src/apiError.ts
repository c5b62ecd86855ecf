/** The error every API call throws; its own module so models (and their tests) need no server. */

/** An API call that failed; `status` is the HTTP status (0 when the server was not reached). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: string | null = null
  ) {
    super(message);
  }
}
