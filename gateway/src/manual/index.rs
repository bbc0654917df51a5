//! # The providers' index: mirror, cache, staleness and snapshots
//!
//! Every PEC decision asks the providers' index (AgID's IGPEC directory, RFC 6109 schema):
//! is the recipient's domain certified (*certificato*) or not (*esterno*), which provider
//! runs it and where its inter-provider receipts go (`mailReceipt`), and does an incoming
//! envelope's signing certificate belong to an accredited provider at all (if not, the
//! message becomes a *busta di anomalia*). The library is [`crate::index`]; the commands are
//! `ponte index schema|lookup|sync|check-signer`.
//!
//! ## The directory
//!
//! Ponte reads an LDAP directory holding `objectClass: provider` entries under a base DN
//! (default `o=postacert`, as commonly quoted for AgID's index; unconfirmed). It connects with
//! `ldap://` or `ldaps://` (rustls with ring; the server is checked against the system's
//! certificate store, or only against the anchors given with `--ca-file`), binds with a DN
//! and a password file or anonymously, and bounds the connection and each operation with a timeout (`--timeout`,
//! default 10 s). A full read uses the paged-results control (RFC 2696, pages of 500), so a
//! directory larger than the server's per-search size limit is read completely when the server
//! allows the *total*. OpenLDAP's defaults do not (`sizelimit 500` also bounds a paged search,
//! through `size.prtotal`): when the server stops the search with `sizeLimitExceeded` (or
//! `adminLimitExceeded`), Ponte reads the directory in parts by the first characters of
//! `providerName`, on the same connection. The schema gives `providerName` a substring rule and
//! no ordering rule, hence prefixes rather than ranges: the part `P` is read as
//! `(providerName=P*)`; when that is capped too, its most common next character `c` (among the
//! names that did come back) is read as `P` + `c` and the rest as `P* and not (P+c)*` in one
//! search; if that rest is still capped, every one-character extension of `P` (letters, digits,
//! space, `.-&',()/_+@!`) is read on its own, and the names continuing with any other character
//! (or equal to `P`) through the complement of all of them, so the parts always cover the
//! directory. A part still capped at 64 characters is an error naming it. Entries are kept
//! once per DN. `ponte index sync` reports how it read: `read` {`method` (`paged` or
//! `split-by-name`), `searches`, `capped_searches`, `server_limit_seen` (the most entries a
//! capped search returned), `deepest_prefix`, `page_size`} in `--json`, and in the summary
//! line. The same reading serves the mirror's refresh.
//!
//! `ponte index schema` prints the IGPEC schema for OpenLDAP (`include` it from
//! `slapd.conf`); `--format ldif` prints the same as a `cn=ponte-igpec,cn=schema,cn=config`
//! entry for `slapadd -n0` or `ldapadd` into cn=config. AgID does not publish syntaxes, so
//! Ponte chose ones OpenLDAP 2.5 accepts: `providerCertificate` has the Certificate syntax and
//! travels as `providerCertificate;binary`; `managedDomains` is a case-insensitive IA5 string
//! (index it with `index managedDomains eq`).
//!
//! ## Domains and certificates
//!
//! Domains compare case-insensitively and without a trailing dot: `PEC.Prova.Test.` is
//! `pec.prova.test`. Non-ASCII names are refused (the index holds A-labels), as are
//! addresses (`@`), empty labels and names over 253 characters.
//!
//! A certificate belongs to a provider when its DER is one of the provider's
//! `providerCertificate` values (compared by SHA-256 fingerprint, printed as lower-case hex),
//! or when one of its `providerCertificateHash` values designates it. The format of that hash
//! in AgID's index is not confirmed (SHA-1 hex is the usual claim), so Ponte accepts SHA-1 or
//! SHA-256 in hex, any case, with or without `:` separators; other values are kept but match
//! nothing. `check-signer` reports which of the two matched (`matched_by`).
//!
//! ## The mirror
//!
//! Like every provider, Ponte keeps a local mirror of the whole index in memory (domain →
//! provider, certificate fingerprint → provider). [`crate::index::Index::sync`] reads the
//! directory and replaces the mirror atomically; `run_refresh` repeats it on a schedule
//! (the service spawns it; at least daily is the rule for PEC providers). A failed refresh
//! keeps the previous mirror. A domain claimed by two providers resolves to the first by DN
//! and is listed as a conflict.
//!
//! ## The cache, and what answers a lookup
//!
//! A lookup is answered, in order, by:
//! 1. the mirror, when it was read from the directory and is younger than the answer's TTL;
//! 2. the answer cache (moka, bounded to 100,000 entries), when the entry is within its TTL:
//!    one hour for positive answers (certified), five minutes for negative ones (not
//!    certified), so that a newly certified domain is seen soon;
//! 3. the directory (one search `(&(objectClass=provider)(managedDomains=…))`); the answer
//!    is cached;
//! 4. **stale-if-error**: when the directory cannot be reached or fails, the newest of the
//!    expired cache entry and the mirror, provided it is not older than seven days
//!    (`max_stale`). The answer says `stale: true`, carries its age and the directory's error.
//!
//! Keep the refresh interval below the positive TTL: then look-ups are answered from the
//! mirror and the directory is only asked (one connection per look-up) for names the mirror
//! cannot answer fresh.
//!
//! If nothing can answer, the lookup fails (`ponte index lookup` exits 2). The JSON `source`
//! says who answered: `ldap` (live), `cache` (data fetched earlier from the directory: the
//! answer cache or the mirror), `snapshot` (an LDIF file or the embedded default);
//! `age_seconds` is the age of the data. Time is a parameter: the index reads a
//! [`crate::index::Clock`], which tests replace with a manual one.
//!
//! ## Snapshots
//!
//! `ponte index sync --ldap URL -o index.ldif` writes the mirror as plain RFC 2849 LDIF, with a
//! `# synced-at:` comment recording when it was read. Any LDIF of IGPEC entries loads
//! (`--ldif`): Ponte's own, `slapcat` output (operational attributes are ignored), or one
//! written by hand, with attributes in any order, base64 (`::`) values, folded lines,
//! comments and `providerCertificate;binary`. Entries that are not `objectClass: provider`
//! (the base entry, for example) are skipped; change records other than `add` are refused.
//!
//! - With `--ldif` alone, the snapshot answers everything (`source: snapshot`).
//! - With `--ldap` and `--ldif`, the directory answers and the snapshot is the fallback when
//!   the directory is unreachable (`stale: true`) — a restart does not start cold.
//! - With neither, the **embedded default snapshot** answers. It is **test data**: the test
//!   providers of `tests/pki` ("Gestore Prova S.p.A." with `pec.prova.test`,
//!   `posta.prova.test`, `legal.prova.test` and the `pec-rsa`/`pec-ec` certificates; "Altro
//!   Gestore S.p.A." with `pec.altro.test`, `posta.altro.test` and `pec-other`). Never rely on
//!   it in production.
