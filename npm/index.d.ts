/** Options shared by every call. */
export interface SealOptions {
  /**
   * Associated data: authenticated, not stored in the sealed value. The same context must be
   * given to open it, e.g. `${CallSid}:pin`.
   */
  context?: string;
}

/** A key as 64 hex characters, or a key ring: the current key first, then older keys. */
export type Keys = string | readonly string[];

/**
 * Seals `plainText` with AES-256-GCM under a fresh random nonce.
 * @returns hex(nonce 12 bytes ‖ ciphertext ‖ tag 16 bytes), lowercase.
 * @throws Error("gather-seal: …") for a malformed key or a non-string argument.
 */
export function encrypt(plainText: string, keyHex: string, options?: SealOptions): string;

/**
 * Opens a sealed value. With an array of keys the first is tried first, then the rest in order.
 * @throws Error("gather-seal: …") when the value is not hex, too short, does not authenticate
 * (wrong key, wrong context or tampered: one message for all three), or is not UTF-8.
 */
export function decrypt(cipherHex: string, keys: Keys, options?: SealOptions): string;

/** A new random key from the CSPRNG: 64 lowercase hex characters. */
export function generateKey(): string;

/** A new object with every string value sealed; other values are copied unchanged. */
export function sealFields<T extends Record<string, unknown>>(
  object: T,
  keyHex: string,
  options?: SealOptions,
): { [K in keyof T]: T[K] extends string ? string : T[K] };

/** A new object with every string value opened; other values are copied unchanged. */
export function openFields<T extends Record<string, unknown>>(
  object: T,
  keys: Keys,
  options?: SealOptions,
): { [K in keyof T]: T[K] extends string ? string : T[K] };
