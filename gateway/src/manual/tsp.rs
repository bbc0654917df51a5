//! # Time-stamps (RFC 3161): the client, the verifier, and the development TSA
//!
//! Every REM evidence Ponte issues is bound to a time-stamp (XAdES B-T: a `SignatureTimeStamp`
//! over the canonicalized `ds:SignatureValue`), and every evidence it receives carries one.
//! This chapter says what Ponte checks in a token, how it fetches one, and why the TSA built
//! into Ponte must never be mistaken for a real one.
//!
//! ## Fetching a token
//!
//! [`crate::tsp::timestamp`] builds a `TimeStampReq` (SHA-256 imprint by default, a random
//! 64-bit nonce from the system generator, `certReq` TRUE so the token can be checked offline,
//! an optional `reqPolicy`), POSTs it as `application/timestamp-query` over HTTP/1.1 and
//! requires `application/timestamp-reply` back. Per attempt there is a connect timeout (5 s)
//! and a timeout for the whole exchange (20 s). Connection failures, timeouts and 5xx answers
//! are retried, 3 attempts in all, pausing 250 ms then 500 ms (doubling, at most 4 s); a 4xx,
//! a wrong content type, an answer over 1 MiB, a refusal (`PKIStatus` rejection) or a token
//! that does not verify are *not* retried. The token is checked (signature, imprint, nonce,
//! ESS, EKU) before it is returned. Only `http://` URLs are supported: TSAs serve plain HTTP
//! because the token is signed; TLS to a TSA is not implemented.
//!
//! From the command line: `ponte tsa stamp FILE --tsa URL [-o OUT] [--token]`, or
//! `ponte tsa stamp --query REQ.tsq --tsa URL` to send a query made elsewhere.
//!
//! ## What the verifier checks
//!
//! [`crate::tsp::verify`] takes a `TimeStampResp` or a bare token and what it must cover,
//! and returns a verdict (never an error for a bad token; `Err` is for bytes that are not a
//! token at all). In order, the first failure being the reason:
//!
//! 1. the status is granted (a response);
//! 2. the token is a CMS `SignedData` encapsulating `id-ct-TSTInfo`, TSTInfo version 1, with
//!    exactly one signer whose certificate is in the token (or given with `--untrusted`);
//! 3. signed attributes: `contentType` is id-ct-TSTInfo, `messageDigest` equals the digest of
//!    the eContent *as received*, and the signature over the signed attributes as received
//!    (re-tagged as SET OF, never re-sorted) verifies;
//! 4. the ESS `signingCertificateV2` (RFC 5816; or the SHA-1 `signingCertificate` of older
//!    TSAs) names that certificate: its hash, and issuer and serial when present;
//! 5. the TSU certificate has extendedKeyUsage *critical* with only `id-kp-timeStamping`
//!    (RFC 3161 §2.3);
//! 6. the `messageImprint` has the expected algorithm and digest, and the nonce is the one sent.
//!
//! Trust is a separate verdict: the TSU certificate must chain to the given anchors
//! (`--tsa-trust`), valid at the instant judged (by default the token's genTime), with the
//! timeStamping usage; without anchors it is `null`. A self-signed TSU certificate given as an
//! anchor itself is trusted as pinned (that is how the development TSA is trusted). Revocation
//! is not checked.
//!
//! `qualified` is true when the TSU certificate's qcStatements extension (1.3.6.1.5.5.7.1.3)
//! carries `esi4-qtstStatement-1` (0.4.0.19422.1.1, EN 319 422 Annex B). It reports what the
//! certificate claims. Whether the TSA really is qualified is decided by the EU trusted lists
//! (a granted `TSA/QTST` service whose digital identity is the TSU certificate or its issuer),
//! which this verifier does not consult (REM → PEC translation with `[trust] lists` does, for
//! the time-stamps of incoming evidence: see [`crate::manual::trust`]).
//!
//! The verdict also reports genTime (fractional seconds kept as sent), policy, serial number,
//! accuracy, ordering and nonce. `ponte tsa verify FILE --data DATA | --digest HEX [--alg]
//! [--nonce HEX] [--tsa-trust PEM]... [--untrusted PEM]... [--at RFC3339] [--json]` exits 0
//! when valid (and trusted when anchors are given), 1 when not, 2 when unreadable.
//!
//! ## The development TSA is NOT qualified
//!
//! `ponte tsa serve --listen 127.0.0.1:PORT [--data DIR]` runs an RFC 3161 server for tests and
//! for the embedded defaults of a development setup. Its tokens are technically sound (they
//! verify with `openssl ts -verify -CAfile DIR/tsa.pem`), but they carry no assurance:
//!
//! - its key is an ECDSA P-256 key generated on first start and kept in a plain file
//!   (`DIR/tsa.key.pem`, mode 0600), not in an HSM; anyone with the file can stamp any time;
//! - its clock is the host's clock, with no traceability to UTC(k) (EN 319 421 requires a
//!   synchronized, monitored source); the accuracy stated (1 s) is a claim, not a measurement;
//! - its certificate is self-signed, issued by no CA, under no policy and on no trusted list;
//!   its subject says `Ponte development TSA — NOT QUALIFIED` and it has **no** QcStatement,
//!   so Ponte's own verifier reports `qualified: false` for its tokens;
//! - its policy OID, `1.3.6.1.4.1.99999.5322.1` ([`crate::tsp::issue::DEV_POLICY`]), is a
//!   placeholder under an arc Ponte does not own; it only tells these tokens apart.
//!
//! A REM provider must use a qualified TSA (eIDAS art. 42 and 44) for the B-T time-stamps of
//! its evidence. The development TSA exists so that the whole path (request, token, B-T
//! augmentation, verification) can be exercised without the network.
//!
//! Its data directory (default: `ponte-tsa` under the OS temporary directory, so a reboot may
//! clear it; pass `--data` to keep it) holds `tsa.key.pem`, `tsa.pem` and `serial`. The key
//! and certificate are made on first start and reused afterwards; a directory with one and
//! not the other is refused rather than overwritten. Serial numbers start at 1 and increase by
//! one per token; each is written to `serial` (write then rename) before the token leaves.
//! `--key KEY --cert CERT.pem` replaces the generated identity: the key is a PKCS#8 file or a
//! `pkcs11:` URI naming a key in a token (see `ponte::manual::config`, "Keys in an HSM"), the
//! certificate must match it (checked at start) and carry the timeStamping extended key usage,
//! and DIR keeps only `serial`. A key in an HSM answers the first objection above; the clock,
//! the self-signed or test certificate and the placeholder policy still make it NOT qualified.
//! It accepts SHA-256, SHA-384 and SHA-512 imprints; other algorithms get a rejection with
//! `badAlg`, unreadable requests `badDataFormat`, another `reqPolicy` `unacceptedPolicy`,
//! request extensions `unacceptedExtension`. It echoes the nonce, includes its certificate
//! when `certReq` is set, signs an ESSCertIDv2 (SHA-256) and stamps whole seconds. It prints
//! its address on start and logs one line per request to stderr.
