/** Options of {@link encrypt} and {@link decrypt}. */
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
 * @throws Error("gather-seal: …") for a malformed key, a non-string argument, or text with a
 * lone surrogate (not well-formed UTF-16), which is refused rather than sealed as U+FFFD.
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

/** Options of {@link sealFields} and {@link openFields}. */
export interface FieldOptions<Copied extends string = never> {
  /**
   * What the fields belong to, e.g. the CallSid. Each field is sealed and opened under the
   * context `${context}:${field name}` (`:${field name}` without one), so a value does not open
   * in another field or for another context; the worker seals a call's fields the same way,
   * with the CallSid.
   */
  context?: string;
  /**
   * Fields copied as they are, whatever they hold: sealFields does not seal them, openFields
   * does not open them. Every other field must be a string.
   */
  copy?: readonly Copied[];
  /**
   * Seal and open every field under `context` itself (no field name), as sealFields did before
   * it bound each value to its field: for values already sealed that way. A value can then be
   * moved to another field and still open.
   */
  sharedContext?: boolean;
}

/**
 * A new object with every field sealed under `${context}:${field name}`, but those named in
 * `options.copy`, which are copied unchanged.
 * @throws Error("gather-seal: …") for a field that is not a string and not in `options.copy`,
 * a malformed key, or text with a lone surrogate.
 */
export function sealFields<T extends Record<string, unknown>, Copied extends string = never>(
  object: T & { [K in Exclude<keyof T, Copied>]: string },
  keyHex: string,
  options?: FieldOptions<Copied>,
): { [K in keyof T]: K extends Copied ? T[K] : string };

/**
 * A new object with every field opened under `${context}:${field name}`, but those named in
 * `options.copy`, which are copied unchanged.
 * @throws Error("gather-seal: …") for a field that is not a string and not in `options.copy`,
 * or one that does not open (see {@link decrypt}).
 */
export function openFields<T extends Record<string, unknown>, Copied extends string = never>(
  object: T & { [K in Exclude<keyof T, Copied>]: string },
  keys: Keys,
  options?: FieldOptions<Copied>,
): { [K in keyof T]: K extends Copied ? T[K] : string };

/**
 * What the worker POSTs to an `action` URL, as JSON: the call, the flow, how the gather ended,
 * and each gathered field's sealed value under `encrypted<Name>Digits` (`pin` →
 * `encryptedPinDigits`, `last_four` → `encryptedLastFourDigits`).
 */
export interface Submission {
  /** The call's CallSid; the first half of every value's context, `${callSid}:${field}`. */
  callSid: string;
  accountSid: string;
  /** The caller. */
  from: string;
  /** The number called. */
  to: string;
  /** The flow's name. */
  flow: string;
  /**
   * How the gather ended: `"success"`, or why not: `"too-many-attempts"`, `"cancelled"` (the
   * caller pressed `*`; the fields gathered before are handed on), `"verify-failed"`,
   * `"verify-unavailable"`, and for a flow with `limits` `"locked"`, `"anonymous"`,
   * `"unavailable"`.
   */
  result: string;
  /** The `verify` fields whose one-time code Twilio Verify approved; absent when none. */
  verified?: string[];
  /**
   * What may be shown of each gathered `card-number` field, by field name:
   * `{ card: { last4: "4242", brand: "visa" } }`; absent when the flow gathered no card. Read it
   * checked with {@link maskedCards}. The card's sealed value is in `encrypted<Name>Digits` as
   * for any field.
   */
  masked?: Record<string, MaskedCard>;
  /** Sealed values: hex(nonce ‖ ciphertext ‖ tag). */
  [encryptedKey: `encrypted${string}Digits`]: string;
}

/** Options of {@link verifySubmission}, {@link verifyStatusEvent} and {@link verifyRelayHandshake}. */
export interface VerifyOptions {
  /** How far the signature's time may be from `now`, either way, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** The receiver's clock: a Date or milliseconds since the epoch. Default `Date.now()`. */
  now?: Date | number;
}

/**
 * How a gather ended, as the worker says it in a submission's `result`. `'cancelled'`: the
 * caller pressed `*`, and the fields gathered before it are handed on.
 */
export type GatherResult =
  | 'success'
  | 'too-many-attempts'
  | 'cancelled'
  | 'locked'
  | 'anonymous'
  | 'unavailable'
  | 'verify-failed'
  | 'verify-unavailable';

/** A card's brand as the worker names it; a card of a brand not among these has none. */
export type CardBrand =
  | 'visa'
  | 'mastercard'
  | 'amex'
  | 'discover'
  | 'diners-club'
  | 'jcb'
  | 'maestro'
  | 'unionpay';

/** What an application may show of a card: its last four digits, and its brand when known. */
export interface MaskedCard {
  /** Exactly 4 ASCII digits, e.g. `"4242"`. */
  last4: string;
  /** Left out when the card's brand is not in the worker's table. */
  brand?: CardBrand;
}

/** Options of {@link openSubmission}. */
export interface OpenSubmissionOptions {
  /** Field names whose sealed values must be present, e.g. `["card", "pin"]`. */
  fields?: readonly string[];
  /**
   * The `result`s accepted; any other is refused before anything is opened. Default
   * `["success"]`: only a complete gather opens. Name others to open the fields a caller gave
   * before running out of tries, e.g. `["success", "too-many-attempts"]`.
   */
  results?: readonly GatherResult[];
  /**
   * `verify` fields whose one-time code must have been approved, e.g. `["otp"]`: each must be
   * listed in the submission's `verified` (a JSON array from an `action` POST, or the
   * comma-separated `verified` query parameter of a redirect). Default: none required.
   */
  verified?: readonly string[];
}

/**
 * Checks a submission's `X-Gather-Seal-Signature` header against the raw body as received, with
 * any of `secrets` (during a rotation, the new and the old one), in constant time, and returns
 * the parsed body. A flow's `status_callback` events are signed the same way:
 * {@link verifyStatusEvent} checks them and their shape.
 * @param secrets A signing secret of at least 32 characters, or a non-empty array of them.
 * @throws Error("gather-seal: …") when the header is missing, malformed, does not match under
 * any secret, or its time is outside the tolerance; when the body is not a JSON object; or for
 * wrong argument types.
 */
export function verifySubmission(
  rawBody: string | Uint8Array,
  signatureHeader: string | null | undefined,
  secrets: string | readonly string[],
  options?: VerifyOptions,
): Submission;

/**
 * Checks that a WebSocket connection comes from the sealing relay: the `X-Gather-Seal-Signature`
 * header it opened the connection with, against the URL it dialled, with any of `secrets`, in
 * constant time, by {@link verifySubmission}'s rules (at most 8 `v1` entries,
 * `options.toleranceSeconds` either way of `options.now`).
 * @param url The whole `wss://…` (or loopback `ws://…`) URL configured as the relay's
 * `upstream`, exactly as written there: not the request's path, not a `URL` object's `href`.
 * @param secrets A signing secret of at least 32 characters, or a non-empty array of them.
 * @returns `true`.
 * @throws Error("gather-seal: relay handshake …") when the header is missing, malformed, does
 * not match under any secret, or its time is outside the tolerance; a TypeError for wrong
 * argument types or a `url` that is not a ws:// or wss:// URL.
 */
export function verifyRelayHandshake(
  url: string,
  signatureHeader: string | null | undefined,
  secrets: string | readonly string[],
  options?: VerifyOptions,
): true;

/**
 * Opens every `encrypted<Name>Digits` value of a submission, or of a Twilio Function's `event`
 * after a redirect (`CallSid` instead of `callSid`), with the context `${callSid}:${name}`,
 * once the submission passes the rules: its `result` is one of `options.results` (only
 * `"success"` by default), every field of `options.verified` is listed as verified, and every
 * field of `options.fields` is present. Other members are ignored, `masked` and a redirect's
 * `<field>_last4` and `<field>_brand` among them (read those with {@link maskedCards}).
 * @returns `{ <field name>: plaintext }`, e.g. `{ card: "1234", pin: "4321" }`.
 * @throws Error("gather-seal: …") naming the rule that failed (never a value): no valid callSid,
 * no `result` or one not accepted, a required verified field not listed, a required field
 * missing, or a sealed value that is not a string or does not open; a TypeError for malformed
 * options.
 */
export function openSubmission(
  submission: Submission | Readonly<Record<string, unknown>>,
  keys: Keys,
  options?: OpenSubmissionOptions,
): Record<string, string>;

/**
 * What may be shown of each card of a submission, read from an `action` submission's `masked`
 * or from a redirect's `<field>_last4` and `<field>_brand` parameters (a Twilio Function's
 * `event`), with no key: `{ card: { last4: "4242", brand: "visa" } }`, `{}` when there is none.
 * Check the submission's signature first ({@link verifySubmission}, or Twilio's after a
 * redirect).
 * @throws Error("gather-seal: …") naming the rule that failed (never a value): `masked` not an
 * object, a name that is not a field name, a card that is not an object of `last4` and `brand`
 * alone, a `last4` that is not exactly 4 ASCII digits, a brand not in {@link CardBrand}, a
 * `<field>_brand` without its `<field>_last4`, a parameter that is not one string, or both forms
 * at once; a TypeError when `submission` is not a plain object.
 */
export function maskedCards(
  submission: Submission | Readonly<Record<string, unknown>>,
): Record<string, MaskedCard>;

/** What happened at a step of a call, in a status event. */
export type StatusEventKind = 'asked' | 'accepted' | 'invalid' | 'confirmed' | 'cancelled' | 'handed-off';

/** Why an entry was refused, in an `invalid` status event. */
export type StatusError = 'timeout' | 'invalid' | 'card-type' | 'expired' | 'mismatch';

/**
 * One step of a call, as the worker POSTs it to a flow's `status_callback` (signed like a
 * submission).
 */
export interface StatusEvent {
  callSid: string;
  /** The flow's name. */
  flow: string;
  /** The field the step happened at; `null` on `handed-off`. */
  field: string | null;
  event: StatusEventKind;
  /** Why the entry was refused on `invalid`; `null` on every other event. */
  error: StatusError | null;
  /** Which try at the field, from 1; 0 on `handed-off`. */
  attempt: number;
  /**
   * When the worker took the webhook, in Unix milliseconds. A webhook's events are sent in order,
   * but a slow receiver can get a later webhook's first: order a call's events by `at`, then by
   * arrival.
   */
  at: number;
  /** A card's last four digits and brand, on a `card-number` field's `accepted` and `confirmed`. */
  masked?: MaskedCard;
  /** How the gather ended, on `handed-off` only. */
  result?: GatherResult;
}

/**
 * Checks a status event's `X-Gather-Seal-Signature` as {@link verifySubmission} does, then its
 * shape, and returns a new object with the event's members only (any other is left out).
 * @throws Error("gather-seal: …") as verifySubmission does, or naming the rule of the shape that
 * failed (never a value): an unknown event, error or result word, an error or `masked` or
 * `result` on an event that does not carry one, a `field` that is not a field name (or not null
 * on `handed-off`), an `attempt` that is not a whole number from 0 to 255, an `at` that is not a
 * time in Unix milliseconds.
 */
export function verifyStatusEvent(
  rawBody: string | Uint8Array,
  signatureHeader: string | null | undefined,
  secrets: string | readonly string[],
  options?: VerifyOptions,
): StatusEvent;

/**
 * The POST parameters of a form-encoded webhook as parsed (Express's `req.body`, a Twilio
 * Function's `event`, `Object.fromEntries(await request.formData())`): a name's repeated values
 * as an array. Values are read as text the way the `twilio` package reads them.
 */
export type TwilioParams = Readonly<Record<string, unknown>>;

/**
 * The algorithm a Twilio signature is made with: `HMAC_SHA1` (the auth token's, and the default)
 * or `HMAC_SHA256`, in any case. Any other name is accepted as an argument, and no request is
 * valid under it.
 */
export type SignatureAlgorithm = 'HMAC_SHA1' | 'HMAC_SHA256' | (string & {});

/**
 * The algorithm named in an `X-Twilio-Webhooks-Signature-Settings` header
 * (`key=<sharedKeyId>,algorithm=HMAC_SHA256`, sent when Twilio signs with a SharedKey), as the
 * `twilio` package's `getSignatureAlgorithm` reads it: the first `algorithm=` part's value,
 * trimmed, as written; `HMAC_SHA1` for a missing or empty header or one that names none.
 * @throws Error("gather-seal: …") when `header` is not a string, null or undefined.
 */
export function getSignatureAlgorithm(header: string | null | undefined): SignatureAlgorithm;

/**
 * Checks Twilio's `X-Twilio-Signature` of a form-encoded webhook: the same verdict as the
 * `twilio` package's `validateRequest` with the same arguments, in constant time.
 * @param authToken The account's auth token, or the SharedKey's secret for a request that
 * carries `X-Twilio-Webhooks-Signature-Settings` (a non-empty string).
 * @param signature The `X-Twilio-Signature` header; a missing header is `false`.
 * @param url The full URL Twilio requested, query string included.
 * @param params The POST parameters; `{}` (or omitted) for none.
 * @param algorithm `HMAC_SHA1` (omitted, null or empty) or `HMAC_SHA256`, in any case: pass
 * `getSignatureAlgorithm(settingsHeader)`. Any other name gives `false`.
 * @returns Whether Twilio signed this request.
 * @throws Error("gather-seal: …") for an empty token or wrong argument types, never for a bad
 * signature or an unsupported algorithm.
 */
export function validateRequest(
  authToken: string,
  signature: string | null | undefined,
  url: string,
  params?: TwilioParams | null,
  algorithm?: SignatureAlgorithm | null,
): boolean;

/**
 * Checks a webhook with a JSON body: Twilio's signature of `url` (with no parameters) and the
 * body's SHA-256 against the URL's `bodySHA256`, as the `twilio` package's
 * `validateRequestWithBody` does.
 * @param body The raw body as received (a string, or its bytes), before any JSON parsing.
 * @param algorithm The signature's algorithm, as for `validateRequest`; the body's hash is
 * SHA-256 whatever it is.
 * @returns Whether Twilio signed this request and the body is the one it signed.
 * @throws Error("gather-seal: …") for an empty token or wrong argument types.
 */
export function validateRequestWithBody(
  authToken: string,
  signature: string | null | undefined,
  url: string,
  body: string | Uint8Array,
  algorithm?: SignatureAlgorithm | null,
): boolean;
