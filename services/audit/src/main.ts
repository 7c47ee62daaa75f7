import 'reflect-metadata';

import { runService } from '@aibox/platform';

import { auditServiceOptions } from './audit.app.js';

await runService(auditServiceOptions());
