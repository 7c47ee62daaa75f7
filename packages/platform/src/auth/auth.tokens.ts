/** Injection token of the `KeySet` that verifies principals (`AIBOX_PRINCIPAL_KEYS`). */
export const PRINCIPAL_KEYS: unique symbol = Symbol('aibox.PRINCIPAL_KEYS');

/** Injection token of the `KeySet` that verifies cap tokens (`AIBOX_CAPTOKEN_KEYS`). */
export const CAPTOKEN_KEYS: unique symbol = Symbol('aibox.CAPTOKEN_KEYS');

/** Tolerated clock difference between the gateway that stamps and the service that verifies (ARCHITECTURE §3). */
export const CLOCK_SKEW_SECONDS = 30;

/** Metadata key of `@Public()`. */
export const PUBLIC_ROUTE = 'aibox:public';
/** Metadata key of `@RequireRole()`: the roles a principal must all hold. */
export const REQUIRED_ROLES = 'aibox:required-roles';
/** Metadata key of `@RequireCapability()`: the capabilities the turn's cap token must all grant. */
export const REQUIRED_CAPABILITIES = 'aibox:required-capabilities';
