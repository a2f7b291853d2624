/**
 * The fixed keys of the RTMPE type 8 and type 9 handshakes.
 *
 * In those handshakes each 8-byte block of the 32-byte signature closing
 * C2 and S2 is encrypted with one of sixteen keys, chosen per block by
 * `signatureKey[block * 8] % 15` (so the sixteenth key is never used):
 *   type 8 — XTEA, 32 rounds, keys of four 32-bit words (xtea.ts);
 *   type 9 — Blowfish, 16 rounds, keys of 24 bytes (blowfish.ts).
 *
 * Source of the values: the public RTMPE write-ups derived from rtmpdump
 * 2.4's librtmp (its `rtmpe8_keys` and `rtmpe9_keys` tables), cross-checked
 * against an independent C# port of the same client (OnlineVideos'
 * RTMP_LIB). They are data, not code; this module only records them. The
 * interop test against /usr/bin/rtmpdump (a librtmp client) exercises
 * every one of them that `% 15` can select.
 */

/** Type 8: sixteen XTEA keys, each as the four 32-bit key words k[0..3]. */
export const RTMPE8_XTEA_KEYS: ReadonlyArray<readonly [number, number, number, number]> = Object.freeze([
  [0xbff034b2, 0x11d9081f, 0xccdfb795, 0x748de732],
  [0x086a5eb6, 0x1743090e, 0x6ef05ab8, 0xfe5a39e2],
  [0x7b10956f, 0x76ce0521, 0x2388a73a, 0x440149a1],
  [0xa943f317, 0xebf11bb2, 0xa691a5ee, 0x17f36339],
  [0x7a30e00a, 0xb529e22c, 0xa087aea5, 0xc0cb79ac],
  [0xbdce0c23, 0x2febdeff, 0x1cfaae16, 0x1123239d],
  [0x55dd3f7b, 0x77e7e62e, 0x9bb8c499, 0xc9481ee4],
  [0x407bb6b4, 0x71e89136, 0xa7aebf55, 0xca33b839],
  [0xfcf6bdc3, 0xb63c3697, 0x7ce4f825, 0x04d959b2],
  [0x28e091fd, 0x41954c4c, 0x7fb7db00, 0xe3a066f8],
  [0x57845b76, 0x4f251b03, 0x46d45bcd, 0xa2c30d29],
  [0x0acceef8, 0xda55b546, 0x03473452, 0x5863713b],
  [0xb82075dc, 0xa75f1fee, 0xd84268e8, 0xa72a44cc],
  [0x07cf6e9e, 0xa16d7b25, 0x9fa7ae6c, 0xd92f5629],
  [0xfeb1eae4, 0x8c8c3ce1, 0x4e0064a7, 0x6a387c2a],
  [0x893a9427, 0xcc3013a2, 0xf106385b, 0xa829f927],
] as const);

/** Type 9: sixteen 24-byte Blowfish keys, as hex. */
export const RTMPE9_BLOWFISH_KEYS_HEX: readonly string[] = Object.freeze([
  "7934774c67d1383adfb356be8b7bd02438e07358415d6967",
  "46f6b4cc0193e3a19e7d3c655586fd098ff7b3c46f41ca5c",
  "1ae7e2f3f9147994c0d39743087bb384432f9d843f21019b",
  "d3e354b0f71df62b5a434d0483643e0d592f61cbb16a590d",
  "c8c1e9b8165699217b5b36b7b59bdf06492c97f59548857e",
  "ebe5e62ea4bad42cf216e08f6623a94341ce381484950053",
  "66db90f03b4ff56fe49c2089355ed2b2c39e9f7f63b22881",
  "bb20aced2a046a1994989bc8ffcd93efc60d56a7eb13d930",
  "bcf2438209408a8725436de6bba4b944583f217c99bb3f24",
  "ec1aaacdcebd5311d2fb83b6c3baab4f6279e865a9922876",
  "c60c300391182d7b79dae1d564779a12c5b1d7914f964ca3",
  "d77c2abfa6e7857c45adff1294d8dea45c3d79a444025d22",
  "16190d816a4cc7f8b8f94ecd2c9e9084b2082560e11eae18",
  "e97c58261b519e49826061fca0a01bcdf505d6a66d0788a3",
  "2b97118bd94ed9df20e39c10e6a1352111f9130d0b2465b2",
  "536a4c54ac8b9bb89729fc602c5b3a8568b5aa6a44cd3fa7",
]);
