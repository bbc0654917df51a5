//! # Trusted lists and REM peers (TS 119 612, EN 319 532-4 common service interface)
//!
//! A REM provider's identity is the *service digital identity* of a qualified REM service in
//! an EU trusted list (ETSI TS 119 612): the certificate that seals its REM messages and
//! evidence. It is reached through the MX of the recipient's domain, which must be a
//! `ServiceSupplyPoint` of that service (EN 319 532-4 C.2.3.2, C.2.3.3). This chapter says how
//! Ponte reads, verifies and keeps the lists, and what it answers.
//!
//! ## Loading the lists ([`crate::tl::load()`])
//!
//! `[trust] lists` names files or `http(s)://` URLs: the EU list of the lists (LOTL), national
//! lists, or both. For a list of lists (its `TSLType` ends in `listofthelists`), every
//! `OtherTSLPointer` to an XML list (MIME type `application/vnd.etsi.tsl+xml`, or a location
//! ending in `.xml`) that is not itself a list of lists is followed, one level deep: a
//! national list's pointer back to the LOTL is not.
//!
//! Each list is then judged ([`crate::tl::verify`]):
//! * its enveloped XAdES signature is verified by the crate's XAdES verifier (one signature,
//!   the last child of the root, the whole document minus the signature and the
//!   `SignedProperties` covered, every digest and the signature value, wrapping defences);
//! * the signer must be allowed: for a list found through a pointer, one of the certificates
//!   of the pointer's `ServiceDigitalIdentities` (same certificate or same public key); for a
//!   list given directly, one of `list_anchors` (same certificate, same public key, or a CA
//!   that issued the signer's certificate). The signer's certificate must be valid at the
//!   list's `ListIssueDateTime`;
//! * the list is read from the octets the signature covers, never from the document around
//!   them.
//!
//! A broken signature is always refused. An unsigned list, or one signed by a key that is not
//! allowed, is refused unless `allow_unsigned_lists = true` (or `--allow-unsigned`), which is
//! for tests only (the ETSI example lists of EN 319 532-4 are unsigned): such a list is
//! accepted as *not verified*, and every answer built on it says so (`list_verified: false`,
//! `unsigned_lists: true` and a warning in `ponte trust check --json`).
//!
//! ## The cache, refresh and unreachable sources
//!
//! The last accepted copy of every source (the exact bytes) is kept in `[trust] cache_dir`
//! (default `tl-cache` beside the configuration), with the time it was fetched; a copy is
//! written only after it was accepted, and it is judged again whenever it is read back.
//! `ponte trust check` and `ponte trust show` use a cached copy younger than `refresh`
//! (default 6 h) without fetching; `ponte trust sync` fetches every source. When a source is
//! unreachable, or serves a list that is refused, or a validly signed list whose
//! `TSLSequenceNumber` is lower than the accepted copy's (a replay of a superseded list), the
//! accepted copy keeps answering, and the status says why and how old it is
//! (`outcome: cached-fallback`, `reason`, `age_seconds`). A list past its `NextUpdate` is
//! used, marked `stale`.
//!
//! ## The answers ([`crate::tl::TrustedLists`])
//!
//! A certificate is the digital identity of a service when it is one of the `X509Certificate`s
//! of the service's `ServiceDigitalIdentity` (current information or any
//! `ServiceHistoryInstance`), or has the same public key. For a time-stamping service the
//! TSU certificate may also be issued by such a certificate. Subject names and SKIs alone never
//! identify a service. The status at an instant T is the one of the latest period (current or
//! historical) whose `StatusStartingTime` is at or before T. *Qualified REM service at T*
//! means: that period's type is `http://uri.etsi.org/TrstSvc/Svctype/EDS/REM/Q` and its
//! status `.../Svcstatus/granted`; *qualified TSU at T*: type `.../Svctype/TSA/QTST`, granted.
//!
//! `ponte trust check CERT.pem (--config FILE | --list TL.xml... [--allow-unsigned]
//! [--anchor PEM]...) [--at T] [--json]` exits 0 when the certificate is either at T, 1
//! when not, and prints `qualified`, `service_type`, `status` (URIs as in the list),
//! `status_since`, `service_name`, `tsp_name`, `list` (the source of the list that says so),
//! `list_verified`, `supply_points`, `matched_by` (`certificate`, `public-key`, `issued-by`),
//! `reason` when not qualified, and `lists`: the status of every list loaded.
//!
//! ## The verify commands
//!
//! `ponte verify`, `ponte evidence verify` and `ponte tsa verify` take the same list options
//! (`--config FILE | --list TL.xml... [--allow-unsigned] [--anchor PEM]...`) and use the lists
//! as `ponte serve` does, as anchors beside the PEM ones:
//! * the signer of a message's S/MIME signature and of each evidence's XAdES signature is
//!   asked about with [`crate::tl::TrustedLists::qualified_rem_service`] at the instant its
//!   chain is judged (`--at`; `signing-time`: its own signing time; for an evidence with
//!   long-term validation data, the long-term instant); when it is the digital identity of a
//!   granted qualified REM service then, its chain is trusted
//!   ([`crate::tl::Verdict::as_trust`]: the path ends in that service). A chain the PEM
//!   anchors (`--trust`) trust stays trusted whatever the lists say (the override); one they
//!   do not trust gets the lists' verdict, its reason naming both;
//! * the time-stamping unit of a time-stamp (each evidence's `SignatureTimeStamp`, the token
//!   of `ponte tsa verify`) is asked about with [`crate::tl::TrustedLists::qualified_tsu`] at
//!   the token's genTime; a qualified TSU is trusted (`--tsa-trust` still an override);
//! * each answer is printed beside the verdict it concerns as `trusted_list`, the object of
//!   `ponte trust check --json` ([`crate::tl::Verdict::to_json`]), and for a time-stamp with
//!   `qualified_tsu`; the text output adds a `trusted list:` line;
//! * the exit code keeps its rule, the lists counting as trust asked: 0 when valid and
//!   trusted, 1 when a signer is neither vouched for by the lists nor by `--trust`.
//!
//! `ponte translate --json` (REM → PEC with `[trust] lists`) prints the time-stamping unit
//! verdicts the translation noted as `timestamps` [{`evidence`, `tsu`, `time`,
//! `qualified_tsu`, `trusted_list`}] ([`crate::translate::report::TsuJudgement`]).
//!
//! ## Capability documents and discovery ([`crate::rem::csi`], `ponte trust show`)
//!
//! The `https://` supply point of a REM service is its Capability and Security Information
//! document (EN 319 532-4 C.2.3.4). [`crate::rem::csi::verify()`] judges it: its XAdES
//! signature (optional in the schema; c.3.1.11) must verify and its signer be the service's
//! digital identity or a certificate issued by it (c.3.1.12); a signed document is read from
//! the signed octets; the REM baseline values are checked (`version` `EN319532v1`,
//! `ERDSMetadata` `EN319522v1.1.1`, `IdentifierSchemeName` `http`, the REM baseline profile,
//! no expiry and no scheduled delivery, LoA substantial, basic consignment, a readable
//! `TLSCertificate`), `ERDSDomain` must be the MX host and `ERDSGoverningBody` the TSP name;
//! a document past `CSINextUpdate` is stale. [`crate::rem::csi::equivalence`] compares two
//! documents as Table C.9 and C.12 say (values for the capability fields, presence for
//! `ERDSId`, `ERDSDomain`, `ERDSGoverningBody`, `TLSCertificate`). The ETSI examples
//! `CSI_CC*.xml` parse; their signatures are placeholders and are refused.
//!
//! `ponte trust show DOMAIN...` runs the pre-relay steps of C.2.3.3.3 for each domain: the MX
//! records, for each MX host the services whose `smtp:` supply point is that host, the status
//! at T, and for a granted qualified REM service its capability documents. JSON per domain:
//! `domain`, `qualified`, `peer` (the first qualified MX host), `mx` [{`host`, `preference`,
//! `service` (as `trust check`), `csi` [{`url`, `signature`, `acceptable`, `deviations`,
//! `erds_domain`, `tls_certificate`, ...}]}], `reason`.
//!
//! ## For the gateway
//!
//! * Hold a [`crate::discovery::TrustStore`] (built from [`crate::config::trust_lists::TrustLists::sources`]):
//!   `open` loads (young cached copies as they are), `lists()` gives the immutable
//!   [`crate::tl::TrustedLists`] snapshot to answer from, and on the service's timer
//!   `due(now)` / `refresh(now)` fetch everything again and swap the result in (refused or
//!   unreachable lists keep answering from their accepted copy; the report says which).
//!   `ponte serve` runs that timer: every `[trust] refresh` (`refresh_in(now)`), each
//!   source logged (`trusted list refreshed`, with its sequence number; a refused or cached
//!   answer is a warning), the age of each copy in use on `/metrics` as
//!   `ponte_trusted_list_age_seconds{list}`. `SIGHUP` gives the store the `[trust]` list keys
//!   as the file now says (`reconfigure(sources, now)`: every list read again at once; refused
//!   whole, the running lists kept, when lists are configured and none loads): `in_force()`
//!   is `None` while no list is configured, so lists may appear or disappear on a reload.
//! * Routing, for a REM recipient with no static route (C.2.3.3.3 pre-relay):
//!   [`crate::discovery::discover`] (domain, [`crate::fetch::Resolver`] built from
//!   `[trust] dns_servers`, fetcher, lists, T, with capabilities) → `Discovery::peer()` is the
//!   MX host to deliver to, with its verdict (service identities, TSP, supply points) and its
//!   capability documents (`TLSCertificate`: the certificate the peer's SMTP server must
//!   present); `refusal` says why there is none (RelayFailure with reason
//!   `R_ERDS_NotIdentified`). A domain with no MX record but an address (A/AAAA) is its
//!   own MX (RFC 5321 §5.1 implicit MX, `Discovery::implicit_mx`, `implicit_mx` in `ponte
//!   trust show --json`), judged like any MX host: it must be a supply point too.
//!   `ponte serve` does this (`service::delivery::discovered`) whenever `[trust] lists` is
//!   set: the MX hosts that are supply points of a granted REM/Q service at the delivery
//!   time are tried in order of preference, each pinned to its own service; STARTTLS is
//!   required and the certificate must be that service's identity (same certificate, same
//!   key, or issued by it, and naming the host). A host that does not offer STARTTLS, cannot
//!   be reached, or a failed MX look-up defer the delivery (retried until `[delivery]
//!   max_age`: never plain text); a host whose certificate is not the identity is skipped
//!   (nothing sent) and counted. The lists' answer is final: a refusal (`no-mx`,
//!   `not-a-supply-point`, `not-qualified`, or `tls-identity-mismatch` on every host tried)
//!   fails the delivery with its reason, in the message's history and in
//!   `ponte_discovery_total{outcome}` (`peer-found`, `deferred`, `no-mail` besides), and
//!   the PEC sender gets the errore-consegna the mappings give for a RelayFailure, with the
//!   RelayFailure evidence (RB08 `R_ERDS_NotIdentified`) the gateway issued as the sender's
//!   ERDS attached as `RelayFailure.xml`. `tests/discovery.rs` runs it end to end.
//! * Capabilities before relaying (C.2.3.4; EN 319 522-2 9.4.4: an ERDS "shall not relay an
//!   ERD message to another ERDS unless it can assess" that it respects the policy's
//!   constraints, the assessment being either the common trust domain or the other ERDS's
//!   capability metadata; c.3.1.3: that respect "shall be verified by means of the
//!   capabilities exhibited by R-REMS"). `ponte serve` reads, for each service a discovered
//!   peer is pinned to, the document at each of its `http(s)://` supply points
//!   (`service::delivery::discovered::check_capabilities`; one attempt, 10 s, 1 MiB; kept per
//!   URL for `[trust] refresh`, a failed fetch for a minute) and judges it at the delivery
//!   time with [`fn@crate::rem::csi::verify`]. The reading, and what follows from it:
//!   a document signed by the service's digital identity (c.3.1.12), fresh (`CSINextUpdate`
//!   not passed: a stale one "is discarded", C.2.3.4.1 note 4) and read from its signed
//!   octets is the service's own statement; when its value-compared fields of tables C.9 /
//!   C.12 deviate from the REM baseline (profile `REMbaseline`, versions, no expiry or
//!   scheduled delivery, LoA substantial, basic consignment), the gateway cannot assess the
//!   peer as a REM baseline ERDS and does not relay to it: the delivery fails
//!   (`csi-not-baseline`, reason prefixed `R_ERDS_NotIdentified` so the sender gets the same
//!   RelayFailure evidence: the peer is not identified as a REM baseline service). Anything
//!   less — no `http(s)` supply point, not fetched, unsigned, signed by another identity, a
//!   signature that does not verify, stale, unreadable — proves nothing either way: the
//!   REMID membership the lists establish stands as the assessment (9.4.4's trust-domain
//!   alternative), the delivery goes on and the outcome is recorded. `ERDSDomain` and
//!   `ERDSGoverningBody` (c.3.3.1, c.3.3.2; presence-only in the equivalence) are compared
//!   with the MX host and the TSP name and noted, not refused. What the document said is in
//!   the delivery's reply and the message's history (`GET /api/queue/{id}`: "capabilities
//!   (CSI) URL: verified, signed by the service's digital identity (SUBJECT), REM baseline
//!   supported, ERDSDomain HOST is the MX host" / "NOT verified (why); relayed by the lists
//!   alone" / "not fetched (why)" / "none published"), in the log, and counted once per
//!   delivery and service in `ponte_capabilities_total{outcome}` (`verified`,
//!   `not-baseline`, `not-verified`, `unavailable`, `none`). The document's
//!   `TLSCertificate` is not used as a pin (the TLS certificate is judged against the
//!   service's digital identity, as above).
//! * Incoming (post-relay): the signer certificate of a REM message or evidence →
//!   [`crate::tl::TrustedLists::qualified_rem_service`] (DER, signing time): `qualified()`
//!   and the service; the PEM `rem_anchors` stay an override. REM → PEC translation does this
//!   for every signer `rem_anchors` does not settle (`translate::to_pec`, the lists set on
//!   the [`crate::translate::Context`] by `ponte serve` at start and after each refresh, and
//!   by `ponte translate`); the history notes which service a signer was trusted as, and a
//!   refusal gives the lists' reason (`trusted lists: ... withdrawn, not granted`). With
//!   `[trust] lists` set, `rem_anchors` may be left out.
//! * Evidence bound to the delivered service: before a delivery is sent to a discovered
//!   peer, the spool records the service it goes to (`Spool::bind_service`: delivery,
//!   output Message-ID, recipients, MX host, service name, TSP, list, its digital identity
//!   certificates; the embedded spool's `delivered_services` table, PostgreSQL's
//!   `ponte_delivered_services`, migration 2). A REM receipt whose main evidence is about
//!   that output (`MessageIdentifierByREMMD`) must be signed by the digital identity (same
//!   certificate or same key) of the service of the delivery to the evidence's recipients:
//!   another service's seal, however qualified or anchored, is refused in the SMTP dialogue
//!   (`554 5.7.1`, refusal `evidence-wrong-service`, naming the service delivered to;
//!   `translate::to_pec`, through `correlate::Store::delivered_services`). Outputs that went
//!   to static routes are not bound. `ponte spool export` / `import` carry the bindings with
//!   their messages (`services` of each message line, format version 2), so a queue moved
//!   between spools keeps refusing evidence from the wrong service.
//! * Time-stamps: [`crate::tl::TrustedLists::qualified_tsu`] (TSU DER, genTime). REM → PEC
//!   translation judges the TSU of every valid evidence's `SignatureTimeStamp` this way when
//!   lists are loaded, and notes the answer (`notes` of `ponte translate --json`, and as
//!   values its `timestamps`; the message's history): "a granted qualified time-stamping unit (TSA/QTST) of ..." or "NOT
//!   a granted qualified time-stamping unit ... the time is not a qualified time-stamp". It
//!   marks, it does not refuse: the evidence and its time-stamp stay valid and `tsa_anchors`
//!   still decides TSA trust; what a non-qualified TSU loses is the eIDAS art. 41(2)/42
//!   presumption of accuracy of the time, which a refusal would not restore (the event did
//!   happen, and the PEC side is owed its receipt).
//! * Pinned identities: [`crate::tl::TrustedLists::rem_identities_at`];
//!   [`crate::tl::TrustedLists::supply_points_for`] (host, T) for one MX host.
