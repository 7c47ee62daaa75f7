/** The service's SQL store (`SqlStore` over the sandbox and credential tables). */
export const SANDBOX_SQL = Symbol('code-sandbox.SQL');
