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
//! | `identity.pec_key`, `identity.pec_cert` | yes | PKCS#8 PEM key (RSA or ECDSA P-256) and its one certificate, signing PEC |
//! | `identity.pec_chain` | no, `[]` | PEM files of intermediates sent with PEC signatures |
//! | `identity.rem_key`, `identity.rem_cert`, `identity.rem_chain` | yes, yes, no | the same for the REM e-seal |
//! | `trust.pec_anchors`, `trust.rem_anchors`, `trust.tsa_anchors` | yes, not empty | PEM files of trust anchors (a file may hold several) |
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
//! match its certificate** (the public keys are compared), an empty anchor list, a certificate
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
//! - `index.base` without `index.ldap`, a policy listed twice: **warning**.
//!
//! Loading (`Config::load`) refuses the first error and keeps the warnings in
//! `Config::warnings` without logging them: `ponte translate` and the other commands that
//! answer one input print nothing before their result (a certificate expiring in 20 days is
//! not news for every message). `ponte config check` lists them, the service logs them once
//! at start-up (`Config::log_warnings`) and its metrics expose them.
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
