// The task definition, shared by the framework and the handlers (only the installed packages).
import { defineTask } from '@mesoskit/protocol';

export const square = defineTask('packaged.square', { resources: { cpus: 0.1, memMb: 32 } });
