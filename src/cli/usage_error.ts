/**
 * The error for bad user input, in a module of its own: code outside the
 * command line that refuses input (a metrics server's address) throws it
 * without importing the command line and its parser, which a data-plane
 * worker must not load (the bundle's workers run from blob URLs, where the
 * parser's npm package cannot start).
 */

/** Error raised for bad user input: printed as one line, exit status 1. */
export class UsageError extends Error {}
