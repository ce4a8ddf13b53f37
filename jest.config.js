/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/local', '<rootDir>/contracts', '<rootDir>/lib', '<rootDir>/scripts'],
  testMatch: ['**/*.test.ts'],
  // The Node.js check and the AWS SDK warning switch of every project command, inherited by the workers.
  globalSetup: '<rootDir>/test/global-setup.ts',
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  // Synthesizing the whole app bundles every Lambda with esbuild; give it room on 2 cores.
  testTimeout: 120000,
};
