/** Which S3 buckets the shield reads; every request for another is refused. */
export interface BucketPolicy {
  isAllowed(bucket: string): boolean;
}

/**
 * The origin allowlist: buckets from the shield's static setting, plus the
 * origin buckets of the distributions the controller pushes (replaced whole
 * on every config change). A shield with neither allows nothing, so an open
 * gRPC port can never be used to read arbitrary buckets with the shield's
 * credentials.
 */
export class BucketAllowlist implements BucketPolicy {
  readonly #static: ReadonlySet<string>;
  #fromDistributions: ReadonlySet<string> = new Set();

  constructor(staticBuckets: Iterable<string>) {
    this.#static = new Set(staticBuckets);
  }

  setDistributionBuckets(buckets: Iterable<string>): void {
    this.#fromDistributions = new Set(buckets);
  }

  isAllowed(bucket: string): boolean {
    return this.#static.has(bucket) || this.#fromDistributions.has(bucket);
  }

  get size(): number {
    return new Set([...this.#static, ...this.#fromDistributions]).size;
  }
}
