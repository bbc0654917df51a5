//! # The configuration file and the correlation store
//!
//! Ponte reads one TOML file: who the gateway is, whom it trusts, where the providers' index
//! is, which time-stamping authority stamps its evidence, which REM policies apply, and where
//! it records the identifiers of the messages it translates. The library is
//! [`crate::config`] and [`crate::correlate`]; the command is `ponte config check FILE`.
//! `gateway/config/example.toml` documents every key and checks as it is from a checkout (its
//! paths point at the test PKI: replace them all before any real use).
//!
//! ## Keys
//!
//! | key | required | meaning |
//! |---|---|---|
//! | `identity.provider_name` | yes | the provider's name in receipts and evidence |
//! | `identity.domain` | yes | the gateway's mail domain (normalised: lower case, no trailing dot) |
//! | `identity.country` | no, `"IT"` | ISO 3166-1 alpha-2 code |
//! | `identity.rem_service_address` | no, `rem-service@<domain>` | the sender of REM receipts |
//! | `identity.pec_key`, `identity.pec_cert` | yes | the key signing PEC — a PKCS#8 PEM file (RSA or ECDSA P-256), or a `pkcs11:` URI naming a key in an HSM (see [Keys in an HSM](#keys-in-an-hsm-pkcs11)) — and its one certificate |
//! | `identity.pec_chain` | no, `[]` | PEM files of intermediates sent with PEC signatures |
//! | `identity.rem_key`, `identity.rem_cert`, `identity.rem_chain` | yes, yes, no | the same for the REM e-seal |
//! | `trust.pec_anchors`, `trust.rem_anchors`, `trust.tsa_anchors` | yes, not empty (`rem_anchors` optional when `trust.lists` is set) | PEM files of trust anchors (a file may hold several) |
//! | `index.ldap`, `index.base` | no | the IGPEC directory and its base (default `o=postacert`) |
//! | `index.snapshot` | no | an LDIF snapshot: alone, the index; with `ldap`, its fallback |
//! | `index.ca_file` | no, the system's store | PEM trust anchors for `ldaps://` |
//! | `index.bind_dn`, `index.password_file` | no, anonymous | a simple bind; the password is read when the index opens, never kept in the configuration |
//! | `index.timeout_seconds` | no, `10` | connection and per-operation timeout, 1 to 600 |
//! | `tsa.url` | yes if `[tsa]` is there | the RFC 3161 endpoint, `http://` only (the client has no TLS yet); without `[tsa]` evidence stays XAdES-B-B |
//! | `policy.applicable` | yes, not empty | absolute URIs, one `REM-ApplicablePolicy` each |
//! | `mappings.dir` | no, compiled-in | a directory overriding the PEC ⇄ REM tables |
//! | `correlation.path` | no, `correlation.jsonl` beside the configuration | the correlation store |
//! | `output.attach_evidence` | no, `true` | attach REM evidence to PEC output as `<Event>.xml` |
//! | `holders.file` / `holders.ldap` / `holders.url` | one of them if `[holders]` is there | the holders' identity source: JSON Lines, an LDAP directory, an HTTP endpoint (see below) |
//! | `holders.base`, `holders.bind_dn`, `holders.password_file`, `holders.ca_file` | `base` with `ldap` | the directory's search base and connection, as for the index |
//! | `holders.attributes` | no, see below | the LDAP attribute names of the record's fields |
//! | `holders.timeout_seconds` | no, `10` | LDAP / HTTP timeout, 1 to 600 |
//! | `holders.unverified` | no, `"basic"` | `"refuse"` or `"basic"`: what happens to a sender whose identity is not confirmed |
//! | `holders.two_factor_required` | no, `false` | a holder without two-factor access counts as not confirmed |
//! | `holders.positive_ttl`, `holders.negative_ttl`, `holders.max_stale` | no, `"10m"`, `"1m"`, `"1d"` | the answer cache: known holders, unknown mailboxes, how stale an answer may be when the source fails |
//! | `holders.assurance_policy` | no, Policy-IT `#assurance-level-policy` | the evidence's `GlobalAssuranceLevel/PolicyID` |
//! | `holders.method_uris` | no, Policy-IT `#authentication-method` for every method | `AuthenticationMethod` per method (`spid`, `cie`, `cns`, `signature`, `video`, `other`) |
//! | `holders.platform_addresses` | no, `[]` | the PEC platform's addresses or prefixes (`192.0.2.10`, `10.1.0.0/16`): the only SMTP peers whose per-submission authentication header is believed |
//!
//! ## `[holders]`: the holders' identity assurance
//!
//! The holder of every PEC mailbox has their identity confirmed (SPID, CIE, CNS, a qualified
//! signature, a recorded video session) and accesses it with two factors: that is what makes
//! PEC valid in Europe, and what a REM evidence states about its sender
//! (`SenderDetails/AssuranceLevelsDetails`; without it a recipient provider reads "basic"
//! authentication). `[holders]` says where the PEC platform's records are:
//!
//! - `file`: JSON Lines, one holder a line, `{"mailbox", "verified" (bool), "method"
//!   (spid|cie|cns|signature|video|other), "verified_at" (RFC 3339), "loa"
//!   (low|substantial|high), "two_factor" (bool)}`; `mailbox` and `verified` required; other
//!   members ignored; re-read when it changes; a later line for a mailbox replaces an earlier
//!   one; `config check` reads it and names a bad line;
//! - `ldap` with `base`: one subtree search `(<mailbox attribute>=<mailbox>)`; attribute names
//!   default to `mail`, `pecHolderVerified`, `pecHolderMethod`, `pecHolderVerifiedAt`,
//!   `pecHolderLoA`, `pecHolderTwoFactor` and are set in `[holders.attributes]` (keys
//!   `mailbox`, `verified`, `method`, `verified_at`, `loa`, `two_factor`); booleans `TRUE` /
//!   `FALSE`, times RFC 3339 or GeneralizedTime; two entries for a mailbox are an error;
//! - `url`: a GET with the mailbox percent-encoded in place of `{mailbox}` (else appended as
//!   `?mailbox=`); `200` with the same JSON object, `404` for an unknown mailbox.
//!
//! Mailboxes are compared in ASCII lower case. Answers are cached (moka) for `positive_ttl` /
//! `negative_ttl`; when the source fails, an answer up to `max_stale` old is served and the
//! translation says so in its notes; with none, the translation fails (exit 2, "holders: ..."),
//! never refuses: the source's outage is not the sender's fault. `config check` contacts
//! neither the directory nor the endpoint. What the evidence then says, and the
//! per-submission header `X-Ponte-Sender-Authentication`, are in `ponte::manual::translate`.
//!
//! With neither `index.ldap` nor `index.snapshot` the embedded default snapshot answers; it
//! is **test data** (the providers of `tests/pki`), as with `ponte index`.
//!
//! **Relative paths** are resolved from the folder of the configuration file, never from the
//! working directory, so a service manager may start Ponte from anywhere.
//!
//! ## What `ponte config check` reports
//!
//! Every problem at once, one line each on stderr, `FILE: key: [warning: ][path: ]message`:
//! a key that is not in the schema (each one named: the schema is checked key by key rather
//! than with serde's `deny_unknown_fields`, which stops at the first), a value of the wrong
//! type, a required key missing, a file that cannot be read (the key and the resolved path are
//! named), a PEM file without a certificate or a key that is not PKCS#8, **a key that does not
//! match its certificate** (the public keys are compared, then the key signs a random challenge
//! that ring verifies with the certificate's public key: a token key is logged in and used),
//! a `pkcs11:` URI that does not parse (the attribute is named), a token key that cannot be
//! opened (module, token, object, PIN: the URI is named, the PIN never), an empty anchor list, a certificate
//! outside its validity, a URL that does not parse (`ldap://`/`ldaps://` for the directory,
//! `http://` for the TSA, with a host and a port from 1 to 65535), a policy that
//! is not an absolute URI, a snapshot that is not LDAP LDIF, a mappings directory whose tables
//! do not validate, a correlation store whose folder does not exist. On success it prints a
//! short summary (provider, domain, the certificates' subjects, anchor counts, index source,
//! TSA). Exit 0 valid (warnings allowed), 1 at least one error, 2 the file cannot be read or
//! is not TOML. `--json` prints `{valid, problems: [{key, path, message, severity}], summary}`.
//!
//! The check reads nothing from the network: the directory and the TSA are not contacted.
//!
//! ## Errors and warnings
//!
//! Decided for Ponte, judged at the instant of the check (`Config::load_at` / `check_at` take
//! it as a parameter):
//! - an identity certificate, or one of its chain, expired or not yet valid: **error** (every
//!   signature made with it would be refused);
//! - one expiring within 30 days: **warning**;
//! - a trust anchor outside its validity: **warning** (still needed to judge messages signed
//!   while it was valid);
//! - an identity certificate that does not chain to the anchors of its side: **warning**
//!   (peers may trust it through other anchors, but Ponte could not verify its own output);
//! - `index.base` without `index.ldap`, a policy listed twice: **warning**;
//! - a `pkcs11:` key whose PIN is written in the URI (`pin-value`): **warning** (the PIN is
//!   then in the configuration file; `pin-source` names a file only the gateway reads).
//!
//! Loading (`Config::load`) refuses the first error and keeps the warnings in
//! `Config::warnings` without logging them: `ponte translate` and the other commands that
//! answer one input print nothing before their result (a certificate expiring in 20 days is
//! not news for every message). `ponte config check` lists them, the service logs them once
//! at start-up (`Config::log_warnings`) and its metrics expose them.
//!
//! ## Keys in an HSM (PKCS#11)
//!
//! `identity.pec_key`, `identity.rem_key`, every `--key` of the command line and the key of
//! the development TSA (`ponte tsa serve --key URI --cert CERT.pem`) may name a private key in
//! a PKCS#11 token instead of a file, with an RFC 7512 URI:
//!
//! ```text
//! pec_key = "pkcs11:token=ponte;object=pec?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/ponte/pin"
//! ```
//!
//! - **Path attributes** (before `?`, separated by `;`) select the token and the key:
//!   `token` (label), `manufacturer`, `serial`, `model`; `slot-id`, `slot-description`,
//!   `slot-manufacturer`; `library-manufacturer`, `library-description`, `library-version`
//!   (`MAJOR[.MINOR]`, checked against the module); `object` (the key's `CKA_LABEL`), `id`
//!   (its `CKA_ID`, bytes, e.g. `id=%01`), `type` (must be `private` when given). Exactly one
//!   initialised token and exactly one private key must match; otherwise the error says how
//!   many did (and, for tokens, which labels are present).
//! - **Query attributes** (after `?`, separated by `&`): `module-path` (required: the module's
//!   shared library, loaded at run time; `module-name` alone is refused), `pin-source` (a
//!   `file:` URI or a plain path; relative paths are resolved from the configuration's folder,
//!   from the working directory on the command line; the PIN is the file's first line) or
//!   `pin-value` (the PIN itself: a warning in a configuration).
//! - Values are percent-decoded; characters RFC 7512 does not allow raw (a space, `/` in the
//!   path part, `#`, ...) must be percent-encoded. An attribute Ponte does not know, vendor
//!   `x-` attributes included, is refused by name; so is an attribute given twice.
//!
//! The token only signs; the CMS and XAdES structures stay Ponte's. RSA keys sign with
//! `CKM_SHA256_RSA_PKCS` (the same bytes ring makes from PKCS#8: PKCS#1 v1.5 is deterministic),
//! ECDSA P-256 keys with `CKM_ECDSA` over a SHA-256 digest computed by ring. The key needs
//! `CKA_SIGN`; a key with `CKA_ALWAYS_AUTHENTICATE` (a login before every signature) is
//! refused. For an EC key, keep its public key object (same label and id) in the token so that
//! it can be compared with the certificate; without it, the match is proved by signing.
//!
//! Sessions: the module is loaded and initialised once per process; each token is logged in
//! once (at start-up, when the configuration loads) and its sessions are pooled and reused by
//! every key and thread (at most 16 at once). When the token drops (an HSM restart, a removed
//! token: `CKR_SESSION_HANDLE_INVALID`, `CKR_DEVICE_REMOVED`, `CKR_USER_NOT_LOGGED_IN`, ...)
//! the pool is thrown away, the token found again, logged in again and the signature retried
//! once; a second failure is an error naming the URI and the `CKR_` code.
//!
//! Errors name the URI as written, with a `pin-value` shown as `***`; the PIN appears in no
//! message and no `Debug` output. A wrong PIN reads
//! `identity.pec_key: pkcs11:token=ponte;object=pec?...: the token "ponte" refused the PIN (CKR_PIN_INCORRECT)`.
//!
//! ## The correlation store
//!
//! For each translated message Ponte records the identifiers of both sides — the PEC
//! `identificativo` and `msgid`, the REM `Message-ID` and `REM-UAMessageIdentifier`, the
//! evidence identifiers, the Message-ID of what it produced — so that a receipt arriving days
//! later finds its message: [`crate::correlate::Store::find`] matches any of them, with or
//! without angle brackets (Message-IDs are otherwise compared exactly).
//!
//! The file store is JSON Lines, one record per line. Each record is written in a single
//! append (`O_APPEND`) and synced (`fdatasync`) before `record` returns; threads of one process
//! are serialised by a mutex, and separate processes appending to the same file keep whole
//! lines because an `O_APPEND` write of a regular file is not interleaved on local POSIX file
//! systems. **Not on NFS**: keep the store on a local disk. A writer that crashes mid-line
//! leaves a torn last line; the next writer starts a fresh line, and readers skip and report
//! torn or malformed lines ([`crate::correlate::Scan::skipped`]) instead of failing. Reading
//! scans the whole file: fine for now, the gateway's spool will index the identifiers.
