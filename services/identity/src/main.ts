import 'reflect-metadata';

import { runService } from '@aibox/platform';

import { identityServiceOptions } from './identity.app.js';

await runService(identityServiceOptions());
