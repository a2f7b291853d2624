import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  distributionIdPattern,
  domainLabelPattern,
  newDistributionId,
  newDomainName,
  randomChars,
} from "../src/ids.js";

describe("distribution ids and domain names", () => {
  it("ids are E and 13 upper-case letters or digits", () => {
    for (let i = 0; i < 1000; i++) {
      const id = newDistributionId();
      assert.equal(id.length, 14);
      assert.match(id, distributionIdPattern);
    }
  });

  it("domain names are s, 13 lower-case letters or digits, then the base domain", () => {
    for (let i = 0; i < 1000; i++) {
      const name = newDomainName("streamfront.local");
      const [label, ...rest] = name.split(".");
      assert.match(label ?? "", domainLabelPattern);
      assert.equal(rest.join("."), "streamfront.local");
    }
  });

  it("does not repeat over many draws", () => {
    const ids = new Set<string>();
    const names = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      ids.add(newDistributionId());
      names.add(newDomainName("x.test"));
    }
    assert.equal(ids.size, 20_000);
    assert.equal(names.size, 20_000);
  });

  it("discards bytes that would bias the draw (rejection sampling)", () => {
    // 252..255 would map to A..D a second time with a plain modulo.
    const bytes = [252, 253, 254, 255, 0, 35, 36, 251];
    let position = 0;
    const random = (size: number) => {
      const out = Buffer.alloc(size);
      for (let i = 0; i < size; i++) out[i] = bytes[position++ % bytes.length] ?? 0;
      return out;
    };
    assert.equal(randomChars("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 4, random), "A9A9");
  });

  it("draws every character about equally often", () => {
    const counts = new Map<string, number>();
    const text = randomChars("abcdefghijklmnopqrstuvwxyz0123456789", 360_000);
    for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
    assert.equal(counts.size, 36);
    for (const [c, n] of counts)
      assert.ok(n > 9_000 && n < 11_000, `${c} drawn ${n} times of an expected 10000`);
  });
});
