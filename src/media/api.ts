// Options of the media operations (split, encode, audio, manifest). Inputs are
// Files/Folders, results are protobuf messages the coordinator stores as they are.
import type {
  AudioRendition,
  EncoderSettings,
  Piece,
  Rendition,
  Segment,
  SourceInfo,
} from '../gen/avspl1t/v1/media_pb.js';
import type { File, Folder } from '../gen/avspl1t/v1/storage_pb.js';
import type { Storage } from '../storage/index.js';

/** What every operation gets from its caller. */
export interface OperationContext {
  storage: Storage;
  /** Private scratch directory; the operation may leave files in it (the caller removes it). */
  tmpDir: string;
  signal?: AbortSignal;
  /** Progress in [0, 1]. */
  onProgress?: (fraction: number) => void;
  /** Threads the encoder may use (cores / concurrent encodes); unset = all cores. */
  threads?: number;
  /** Called with each ffmpeg command line before it runs (debug logs). */
  onCommand?: (program: string, args: readonly string[]) => void;
}

export interface SplitOptions {
  input: File;
  working: Folder;
  secondsPerSegment: number;
  /**
   * 'auto' (default): pieces of a seekable source on a filesystem are ranges of the
   * source itself; other sources (S3, MPEG-TS, raw streams) are cut into stream
   * copies in `working`. 'copy' always cuts copies.
   */
  pieces?: 'auto' | 'copy';
}

export interface EncodeOptions {
  /** Consecutive pieces; one segment each. */
  pieces: Piece[];
  source: SourceInfo;
  output: Folder;
  settings: EncoderSettings;
  /** The rung: size, encoder settings (instead of `settings`) and bit rate cap; unset = `settings` at the source's size. */
  rendition?: Rendition;
  /** The rung's index in the ladder, copied to each Segment. */
  renditionIndex?: number;
  /**
   * Several rungs from one decode of the pieces, each into its own folder (the
   * segments come back rung by rung, in this order); when set, `output`,
   * `settings`, `rendition` and `renditionIndex` are not used.
   */
  rungs?: EncodeRungTarget[];
}

/** One rung of a several-rung encode: its size and settings, its index in the ladder, its folder. */
export interface EncodeRungTarget {
  rendition: Rendition;
  renditionIndex: number;
  output: Folder;
}

export interface AudioOptions {
  input: File;
  source: SourceInfo;
  output: Folder;
  secondsPerSegment: number;
}

export interface ManifestOptions {
  segments: Segment[];
  source: SourceInfo;
  output: Folder;
  audio?: AudioRendition;
  /** The resolved ladder (Segment.rendition_index indexes it); empty = one rendition. */
  renditions?: Rendition[];
  /**
   * The sub-folder of `output` the segments and the media playlists are in
   * (unset: `output` itself); the master playlist, written last, goes in `output`.
   */
  mediaFolder?: string;
  /** The job's working folder, whose leftover temporary files go too. */
  working?: Folder;
  /**
   * The segments are a progressive job's complete prefix: write EVENT playlists
   * and leave temporary files alone (encodes are still uploading).
   */
  progressive?: boolean;
}
