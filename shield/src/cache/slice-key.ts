/**
 * Names of cached things. A slice is the unit of caching and of S3 reads:
 * bytes [index × sliceBytes, (index + 1) × sliceBytes) of one version of one
 * object, cut at the object's end. Versions are told apart by ETag, so a
 * replaced object never shares a slice with its predecessor.
 */

/** One version of one object: what a read is pinned to. */
export interface ObjectVersion {
  readonly bucket: string;
  readonly key: string;
  /** As S3 sends it, with its quotes; never empty (unversioned reads bypass the cache). */
  readonly etag: string;
}

/**
 * The id of an object (any version), for the stat cache. Lengths prefix the
 * fixed fields and the key comes last, so no bucket/key pair can spell
 * another's id whatever characters the key holds.
 */
export function objectId(bucket: string, key: string): string {
  return `${bucket.length}:${bucket}|${key}`;
}

/** The id of one version, for read-ahead streams. */
export function versionId(version: ObjectVersion): string {
  return `${version.bucket.length}:${version.bucket}|${version.etag.length}:${version.etag}|${version.key}`;
}

/**
 * The id of one slice in every tier. The slice size is part of it: slices
 * written to disk under one cache-slice-bytes must never be read back as
 * slices of another size after a restart with a new setting.
 */
export function sliceId(version: ObjectVersion, sliceBytes: number, index: number): string {
  return `${sliceBytes}.${index}|${versionId(version)}`;
}

/** Index of the slice holding byte `offset`. */
export function sliceIndexOf(offset: number, sliceBytes: number): number {
  return Math.floor(offset / sliceBytes);
}

/** Bytes of slice `index` of an object of `objectSize` bytes (0 past the end). */
export function sliceLengthOf(index: number, sliceBytes: number, objectSize: number): number {
  return Math.max(0, Math.min(sliceBytes, objectSize - index * sliceBytes));
}
