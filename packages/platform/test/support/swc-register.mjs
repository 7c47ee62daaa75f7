// `node --conditions=aibox-source --import ./swc-register.mjs main.ts` runs TypeScript sources (see swc-hooks.mjs).
import { register } from 'node:module';

register('./swc-hooks.mjs', import.meta.url);
