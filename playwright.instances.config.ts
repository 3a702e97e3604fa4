// The two-instance specs (`cargo xtask test`'s PostgreSQL pass): the same
// browser settings as every spec, against instance A (BASE_URL), with
// instance B at INSTANCE_B_URL.
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

export default defineConfig({ ...base, testDir: 'tests/e2e-instances' });
