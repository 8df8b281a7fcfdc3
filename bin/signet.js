#!/usr/bin/env node
// The `signet` command. TypeScript sources run through tsx, like the server.
import { register } from 'tsx/esm/api';

register();
await import('../server/cli/main.ts');
