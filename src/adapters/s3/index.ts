import { s3VersionsRestore } from './restore.js';
import { s3VersioningCheck } from './versioning-check.js';

export const actions = [s3VersionsRestore, s3VersioningCheck];
