import 'reflect-metadata';

import { runService } from '@aibox/platform';

import { sandboxServiceOptions } from './sandbox.app.js';

await runService(sandboxServiceOptions());
