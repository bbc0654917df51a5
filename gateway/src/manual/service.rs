//! # The gateway service: `ponte serve`
//!
//! ```text
//! ponte serve --config FILE [--smtp ADDR] [--ops ADDR] [--log-format text|json]
//! ponte serve --dev [--data DIR] [--smtp ADDR] [--ops ADDR] [--log-format text|json]
//!       [--route DOMAIN=HOST:PORT]... [--trust PEM]... [--index LDIF]...
//! ponte submit FILE --smtp IP:PORT --from ADDR --to ADDR... [--tls none|starttls]
//! ```
//!
//! A provider routes its cross-border mail to Ponte over SMTP: its PEC platform hands over PEC
//! transport envelopes for foreign recipients and the PEC receipts about messages that came from
//! REM; REM providers hand over REM dispatches for Italian PEC recipients and REM receipts about
//! the dispatches Ponte sent. What Ponte makes goes out over SMTP: REM messages to the
//! recipient's domain (a `[[route]]`, else its MX), PEC messages to `[pec] relay`.
//!
//! ## What each message becomes
//!
//! | in | out | to |
//! |---|---|---|
//! | PEC envelope (busta di trasporto / anomalia) | REM dispatch (SubmissionAcceptance, B-T); the 12 h and 24 h timers start | each recipient's domain (RCPT TO) |
//! | PEC receipt about a message that came from REM | the mapped REM receipt (presa in carico → RelayAcceptance, avvenuta consegna → ContentConsignment, ...) | the REM sender's domain |
//! | REM dispatch for recipients in the index's PEC domains | PEC envelope, and a RelayAcceptance evidence at once | `[pec] relay`; the REM sender's domain |
//! | REM receipt about a dispatch made here | the mapped PEC receipt(s); the timers of the recipients it is about stop | `[pec] relay` |
//!
//! The mapping rows are those of `ponte translate` ([`crate::manual::translate`]). A presa in
//! carico (RelayAcceptance) stops the 12 h warning; a delivery result (avvenuta-consegna,
//! errore-consegna) stops both timers for its recipient.
//!
//! ## The SMTP dialogue
//!
//! * **`250` only once the message is in the spool**: its body and state committed and synced
//!   (redb; a body over 256 KiB is a file of its own, written and synced with its folder
//!   first), its legal log line synced. Changes made at the same time share one sync (group
//!   commit): none is answered before the sync that covers it is done. When that sync fails
//!   (a full disk) the message gets `452` although its change may have been committed: it
//!   may then still go out, and the client's retry is answered as a duplicate — refused,
//!   never lost, never acknowledged unstored. A message that cannot be stored gets `451`
//!   (`452` when the disk is full) and is not acknowledged; a full disk does not need a
//!   restart to recover (the spool reopens its database once there is room again).
//! * **Judged before the reply**: a message that is not a signed PEC or REM message from a
//!   trusted provider gets `554 5.7.1` with the reason (`not signed`, `signature not valid`,
//!   `signer not trusted`, `signer is not a provider of the index`, an evidence not acceptable,
//!   an original that does not match its evidence); nothing is stored and the refusal goes to
//!   the legal log. Anything else is `554 5.6.0`. When the index cannot answer, `451 4.4.3`.
//! * The translation is done before the reply too, so that the outputs are stored with the
//!   message in the same step. When it cannot be finished now (the TSA is down), the message
//!   is stored as `received`, acknowledged, and processed again with the delivery back-off:
//!   nothing leaves without its time-stamp.
//! * **What can only fail later** is answered with the mapped notice, never dropped: a PEC
//!   envelope refused after acceptance gets an avviso di mancata consegna per recipient (a
//!   non-accettazione when the holder's identity is not confirmed); a REM dispatch a
//!   RelayRejection evidence (RB02 format, RB06 policy or the access point's `[limits]`, RB21
//!   a recipient outside the index's PEC domains). A receipt that cannot be translated is kept
//!   as `failed` (a notice about a notice would loop).
//! * Idempotent on the input's `Message-ID`: a peer's retry after a lost `250` (the same
//!   bytes) gets `250 Already queued as N` and no second output. Other bytes under a known
//!   `Message-ID` are judged first like any message (a forgery gets its `554`); an authentic
//!   one is then answered as a duplicate.
//! * Extensions: `PIPELINING`, `SIZE` (`[smtp] max_message_bytes`), `8BITMIME`,
//!   `ENHANCEDSTATUSCODES`, `STARTTLS` (rustls, `[smtp] tls_cert` / `tls_key`; what the client
//!   sent after STARTTLS in the clear is discarded). Limits: `[smtp] max_connections` (`421`),
//!   `command_timeout`, `data_timeout` (the whole DATA), `max_recipients` (`452`), lines over
//!   4096 bytes (`500`), ten protocol errors close the session.
//!
//! ## The spool
//!
//! [`crate::service::spool`]: embedded by default (`[spool] path`: redb for state and bodies up
//! to 256 KiB, one file per larger body, `legal.jsonl`), behind a trait for a shared PostgreSQL backend. A message goes
//! `received` → `queued` → `delivered` | `failed` | `quarantined`; each output becomes one
//! delivery per destination, tried with exponential back-off and jitter (`[delivery]
//! first_retry`, doubling up to `max_retry`) until `max_age`, then failed with the mapped notice
//! (a PEC errore-consegna for a REM dispatch, carrying as `RelayFailure.xml` the signed
//! RelayFailure evidence RB08 `R_ERDS_NotIdentified` when discovery refused the recipient's
//! REM provider; a RelayFailure RB09/RB07 for a PEC envelope made from REM). A message that makes processing fail five times for a reason of its own (not an
//! outage) goes to quarantine; `ponte queue retry` brings it back. Every change is one durable
//! step; after a crash the interrupted step is done again. Towards peers that means
//! at-least-once: a message handed over just before a crash may be handed over again after
//! the restart, with the same `Message-ID` (peers, Ponte included, deduplicate on it).
//!
//! ## Timers
//!
//! `[timers] warning` (default 12 h) and `final` (24 h) after a REM dispatch made from a PEC
//! envelope: the preavviso di mancata consegna, then the final notice (errore-esteso `5.4.1`),
//! signed PEC notices to the sender through `[pec] relay`, one per recipient still without
//! delivery evidence. Timers live in the spool: they survive restarts and fire once.
//!
//! ## Signals, logs
//!
//! `SIGTERM` / `SIGINT`: stop accepting, let sessions finish their command (`421`), let
//! deliveries in progress finish, exit 0. `SIGHUP`: read the configuration again and apply
//! routes, `[pec]`, `[delivery]`, `[timers]`, `[limits]`, `[smtp]` limits (for new sessions),
//! the index (the snapshot again, or a full read of the directory) and the trusted-list keys
//! of `[trust]` (`lists`, `list_anchors`, `allow_unsigned_lists`, `refresh`, `cache_dir`,
//! `dns_servers`; [`crate::service::reload`]): the store's sources are replaced and every list
//! read again at once ([`crate::discovery::TrustStore::reconfigure`]; a list refused or
//! unreachable answers from its cached copy), MX delivery and the judging of incoming REM
//! signers use the new lists from the next message, `lists` appearing starts both and
//! `lists` removed stops both, and the refresh timer takes the new `refresh`. A
//! configuration with problems is refused whole, and so is one whose lists cannot be loaded
//! at all (none accepted, none cached): the running configuration and lists stay (`reload
//! refused`). The log names what was reloaded (`configuration reloaded`, `trusted list
//! reloaded` per list); `ponte_trusted_list_loads_total{trigger}` counts `start`, `refresh`
//! and `reload` loads. Identities, the PEM anchors, listeners and the spool need a restart.
//! Logs go to stderr through tracing (`PONTE_LOG`, default `info`), JSON lines with
//! `--log-format json`; the legal log (`SPOOL/legal.jsonl`) has one JSON line per event (ids,
//! parties, time, outcome, never content), synced.
//!
//! ## `--dev`
//!
//! With no configuration at all: a development PKI (a root CA, the PEC and REM identities, a
//! STARTTLS certificate; ECDSA P-256, made once with rcgen and kept in `--data`), the
//! development TSA in the same process, an index snapshot listing only the development
//! provider, SMTP on 127.0.0.1:2525 and ops on 127.0.0.1:9025, and everything delivered into
//! `DATA/outbox/` (no routes). It prints what it made, the ports, and a `try:` line: a command
//! that wraps a sample message as a signed PEC envelope (`ponte pec wrap`) and hands it over
//! (`ponte submit`); the REM dispatch appears in the outbox. Nothing of it is for production:
//! see [`crate::service::dev`].
//!
//! For a harness that brings its own vectors (the conformance suite's `smtp://` subject),
//! three flags, accepted only with `--dev`, change the configuration written for that start:
//! `--route DOMAIN=HOST:PORT` (repeatable) adds a `[[route]]` without TLS, so the recipients of
//! DOMAIN (`example.eu`, `*.example.eu`, `*`) go to HOST:PORT (the harness's sink) instead of the
//! outbox; `--trust PEM` adds that file's anchors to `pec_anchors` and `rem_anchors`; `--index
//! LDIF` lists that snapshot's providers besides the development provider (both written into
//! `DATA/index.run.ldif`). The files made in `--data` are not touched, and the next start
//! without the flags is the plain development gateway again. `serve --config` has no such
//! flags: routes, anchors and the index of a production gateway are in its configuration file.
