import { join } from 'node:path';
import { packageVersion } from '../../../exporters/kit/landing';

/** The package's version (package.json beside dist/ and src/). */
export const VERSION = packageVersion(join(__dirname, '..'));
