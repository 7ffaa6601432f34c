/**
 * This extension's name and version, sent in the comm hello. Kept equal to
 * package.json's version (the single source, which the Python package reads
 * too) by labextension/test/version.test.ts.
 */
export const PACKAGE_NAME = 'jupyterlab-nbtrack';
export const VERSION = '0.1.0';
/** The `frontend` field of the hello message. */
export const FRONTEND = `${PACKAGE_NAME} ${VERSION}`;
