/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/local', '<rootDir>/contracts', '<rootDir>/lib', '<rootDir>/scripts'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  // Synthesizing the whole app bundles every Lambda with esbuild; give it room on 2 cores.
  testTimeout: 120000,
};
