import 'reflect-metadata';

import { runService } from '@aibox/platform';

import { runtimeServiceOptions } from './runtime.app.js';

await runService(runtimeServiceOptions());
