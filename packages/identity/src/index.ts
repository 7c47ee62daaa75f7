export { HEADER, GRPC_METADATA, isSpoofableHeader, stripSpoofableHeaders } from './headers.js';
export { parseKeySet, generateKeySetValue, type KeySet } from './key-set.js';
export { INTERNAL_PRINCIPAL_ISSUER, signPrincipal, verifyPrincipal, type Principal } from './principal.js';
export { signCapToken, verifyCapToken, hasCapability, type CapToken } from './cap-token.js';
export { IdentityError, type IdentityErrorCode } from './identity.error.js';
export { canonicalJson } from './canonical-json.js';
export { newTurnId, isUuid } from './ids.js';
export { MAX_TOKEN_BYTES } from './signed-token.js';
