// Public surface of the media pipeline: split, encode, audio, manifest.
export type {
  AudioOptions,
  EncodeOptions,
  EncodeRungTarget,
  ManifestOptions,
  OperationContext,
  SplitOptions,
} from './api.js';
export { encodeAudio } from './audio.js';
export { encode } from './encode.js';
export { manifest } from './manifest.js';
export { ENCODERS, type EncoderName, normalizeSettings, settingsProblem } from './settings.js';
export { split } from './split.js';
