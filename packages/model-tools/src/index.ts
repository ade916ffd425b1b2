export { cumulativeSums, mulberry32, normal, pickWeighted, sampleIndices } from './random';
export { assertLittleEndian, readFloat32, writeArray } from './binary-files';
export { checkParity, formatParity, runParityCheck, type ParityOptions, type ParityReport, type ParityResult, type ParityRows } from './parity';
export { runScript, stepLogger } from './script';
