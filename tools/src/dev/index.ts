export {
  startMesh,
  DEV_LOGIN_FILE,
  type Mesh,
  type MeshOutcome,
  type MeshService,
  type StartMeshOptions,
} from './mesh.js';
export { DevRunnerError, type DevRunnerErrorCode, type DevRunnerErrorDetails } from './dev-runner.error.js';
export { discoverServices, type ServiceSpec } from './service-discovery.js';
export {
  DEV_KEYS_FILE,
  prepareDevEnvironment,
  WEB_APP_DIR,
  type DevEnvironment,
  type ShellEnv,
  type WebAppSource,
} from './dev-environment.js';
export { renderLogLine } from './log-format.js';
