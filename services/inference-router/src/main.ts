import 'reflect-metadata';

import { runService } from '@aibox/platform';

import { routerServiceOptions } from './router.app.js';

await runService(routerServiceOptions());
