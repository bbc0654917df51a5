//! # Operating the gateway: the ops API, its metrics and `ponte queue`
//!
//! `ponte serve` answers operators over HTTP/1.1 on `[ops] listen` (default `127.0.0.1:9025`,
//! loopback; put a reverse proxy with TLS in front, or an SSH tunnel, to reach it from
//! elsewhere). The library is [`crate::service::ops`]; the command line client is
//! `ponte queue`.
//!
//! ## Endpoints
//!
//! | method and path | token | answer |
//! |---|---|---|
//! | `GET /healthz` | no | 200 `{"status": "ok", "version", "uptime_seconds"}` while the process serves |
//! | `GET /readyz` | no | 200 ready / 503 not ready: `{"ready", "failed": [names], "checks": [..]}` |
//! | `GET /metrics` | no | the metrics, OpenMetrics text |
//! | `GET /api/mappings` | yes | the PEC ⇄ REM tables in use (as `ponte mappings show --json`) |
//! | `GET /api/index/{domain}` | yes | the providers' index's answer (as `ponte index lookup --json`) |
//! | `GET /api/queue` | yes | messages, newest first |
//! | `GET /api/queue/{id}` | yes | one message with its deliveries and timers |
//! | `POST /api/queue/{id}/retry` | yes | processes or delivers it again |
//! | `DELETE /api/queue/{id}` | yes | moves it to quarantine (never deletes) |
//! | `GET /api/queue/{id}/input` | yes | the message as received (`message/rfc822`) |
//! | `GET /api/queue/{id}/outputs/{k}` | yes | its output `k` (from 0, as listed in `outputs`) as sent (`message/rfc822`) |
//! | `GET /api/messages/{id}` | yes | the message's whole trace across both sides |
//!
//! `HEAD` is answered wherever `GET` is. A trailing `/` is ignored. `{id}` is the spool's
//! number of a message (decimal; what `GET /api/queue` lists as `id`).
//!
//! ## Authentication
//!
//! `/api/*` wants `Authorization: Bearer <token>`. The token is the content of the file
//! `[ops] token_file` (white space around it trimmed, at least 16 characters), read at each
//! request: writing a new token into the file applies at once, no restart. The comparison is
//! constant-time by construction: the server HMACs (SHA-256, a random key made at start-up) the
//! expected token and lets `ring::hmac::verify` check the presented one against that tag, so
//! the time taken depends on the presented token's length, not on how much of it is right.
//!
//! | situation | status | `kind` |
//! |---|---|---|
//! | no `[ops] token_file` configured | 403 | `no-token-configured` (to everyone: the API is off) |
//! | the file cannot be read, or the token in it is shorter than 16 characters | 503 | `token-unavailable` |
//! | no `Authorization: Bearer` header, or another token | 401 (with `WWW-Authenticate: Bearer realm="ponte"`) | `unauthorized` |
//!
//! Under `/api/` the token is checked before the path: without it, a client learns nothing
//! about which paths exist. `/healthz`, `/readyz` and `/metrics` are open (they say nothing
//! about messages); keep `[ops] listen` on loopback or behind the proxy.
//!
//! ## Refusals
//!
//! Every refusal is `{"error": "<text naming the input>", "kind": "<name>"}`:
//!
//! | status | `kind` | when |
//! |---|---|---|
//! | 400 | `bad-id` | `{id}` is not a decimal number |
//! | 400 | `bad-query` | an unknown query parameter, a state that does not exist, `limit` outside 1..1000 |
//! | 400 | `bad-domain` | `{domain}` is not a domain name |
//! | 400 | `bad-body` | the request body could not be read |
//! | 404 | `no-endpoint` | no such path |
//! | 404 | `not-found` | no message with that number |
//! | 405 | `method-not-allowed` | a method the path does not take (`Allow` lists those it does) |
//! | 409 | `wrong-state` | the action does not apply in the message's state |
//! | 413 | `body-too-large` | a body over 16 KiB (declared or sent); the API takes no bodies |
//! | 500 | `spool-corrupt`, `internal` | a stored entry cannot be decoded; an answer cannot be written |
//! | 503 | `spool-unavailable`, `index-unavailable` | the spool's storage fails; the index cannot answer |
//!
//! Limits: 64 connections at once (more are closed), 10 s to send a request's header,
//! 64 KiB of header. On `SIGTERM` the server stops accepting, lets the requests in flight
//! finish (10 s at most) and returns.
//!
//! ## `GET /readyz`
//!
//! ```json
//! {"ready": false, "failed": ["index"], "checks": [
//!   {"name": "spool", "ok": true, "detail": "writable"},
//!   {"name": "identity", "ok": true, "detail": "4 certificates valid now", "expires": "2126-10-31T17:12:51Z"},
//!   {"name": "index", "ok": false, "detail": "snapshot, 2592000 s old: older than 604800 s",
//!    "source": "snapshot", "age_seconds": 2592000, "max_age_seconds": 604800}]}
//! ```
//!
//! - `spool`: a small file written and synced in the spool folder ([`crate::service::Spool::writable`]);
//!   its error otherwise (a full disk, a read-only mount).
//! - `identity`: the PEC and REM certificates and their chains are valid now; `expires` is
//!   the earliest `notAfter` among them (alert on it before it comes).
//! - `index`: the index has data, not older than the staleness its answers may be served with
//!   (7 days, `CachePolicy::max_stale`). An LDAP index that has not been read yet and has no
//!   snapshot is not ready. A snapshot without a `# synced-at:` line has an unknown age
//!   (`age_seconds: null`) and counts as ready.
//!
//! ## `GET /metrics`
//!
//! `Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8` (Prometheus reads
//! it). The gauges that describe the queue and the index are set from the spool
//! ([`crate::service::Spool::stats`]) and the index at each scrape; a spool that cannot be read
//! makes the scrape fail with 503 `spool-unavailable` (the scrape's failure is the alert).
//!
//! | metric | type | labels / meaning |
//! |---|---|---|
//! | `ponte_messages_total` | counter | `direction` (`pec-to-rem`, `rem-to-pec`), `outcome` (`accepted`, `refused-smtp`, `translated`, `refused`, `delivered`, `failed`, `quarantined`, `duplicate`, `tempfail`) |
//! | `ponte_deliveries_total` | counter | `destination` (`pec`, `rem`, `outbox`), `outcome` (`delivered`, `deferred`, `failed`) |
//! | `ponte_notices_total` | counter | `kind` (`warning`, `final`, `non-delivery`, `rejection`) |
//! | `ponte_queue_depth` | gauge | messages not in a final state |
//! | `ponte_queue_oldest_seconds` | gauge | age of the oldest of them (0 when none) |
//! | `ponte_deliveries_queued` | gauge | deliveries waiting for an attempt |
//! | `ponte_timers` | gauge | PEC timers waiting |
//! | `ponte_index_age_seconds` | gauge | age of the index data (0 when unknown) |
//! | `ponte_trusted_list_age_seconds` | gauge | `list` (its source): age of the copy in use of each trusted list, `[trust] lists` set (refreshed every `[trust] refresh`) |
//! | `ponte_discovery_total` | counter | `outcome` of a REM peer discovery: `peer-found` (once per delivery, not again at its retries), `no-mx`, `not-a-supply-point`, `not-qualified`, `tls-identity-mismatch` (one per MX host refused), `deferred`, `no-mail` |
//! | `ponte_tsa_request_seconds` | histogram | time-stamp requests to the TSA (1 ms to 8 s buckets) |
//! | `ponte_smtp_sessions` | gauge | SMTP sessions open now |
//!
//! ## `GET /api/queue`
//!
//! Query: `state` (comma-separated and/or repeated: `received`, `queued`, `delivered`,
//! `failed`, `quarantined`, or `all`; default: the states that are not final, `received` and
//! `queued`), `limit` (1 to 1000, default 100). Newest first.
//!
//! ```json
//! {"count": 1, "limit": 100, "states": [], "messages": [
//!   {"id": 3, "state": "queued", "format": "pec", "kind": "posta-certificata",
//!    "message_id": "<opec-b@pec.example.it>",
//!    "envelope": {"mail_from": "posta-certificata@pec.example.it", "rcpt_to": ["anna@rem.example.eu"],
//!                 "peer": "192.0.2.7:40112", "helo": "mx.pec.example.it", "tls": true},
//!    "size": 48211, "received_at": "2026-12-06T12:00:00Z", "updated_at": "2026-12-06T12:00:01Z",
//!    "attempts": 0, "next_attempt": null, "mapping": "busta-trasporto", "refused": null,
//!    "last_error": null, "output_count": 1}]}
//! ```
//!
//! `refused` is `[kind, text]` for a message refused after acceptance (the kind is
//! `translate::RefusalKind`'s name); `last_error` says why a message is quarantined or failed,
//! or what the last processing attempt met; `next_attempt` is the next processing attempt of a
//! `received` message.
//!
//! ## `GET /api/queue/{id}`
//!
//! `{"message": M, "deliveries": [D], "timers": [T]}`:
//! - `M` is the queue entry's fields with `outputs` [{`index`, `kind` (`rem-dispatch`,
//!   `rem-receipt:RelayAcceptance`, `pec-envelope`, `pec-receipt:avvenuta-consegna`,
//!   `pec-notice:...`), `message_id`, `size`, `deliveries` (numbers)}] instead of
//!   `output_count`, and `history` [{`at`, `event`, `detail`}], oldest first (`received`,
//!   `translated`, `refused`, `queued`, `attempt`, `deferred`, `delivered`, `failed`,
//!   `timer`, `retry`, `quarantined`, `processing-failed`, `note`, `notice`).
//! - `D`: {`id`, `message`, `output`, `kind`, `message_id`, `destination` ({`kind`: `pec`} for
//!   `[pec] relay`, {`kind`: `domain`, `value`: the domain} for a route or MX), `mail_from`,
//!   `rcpt_to`, `state` (`queued`, `delivered`, `failed`, `quarantined`), `attempts`,
//!   `created`, `next_attempt`, `last_result` (the peer's reply or the error)}.
//! - `T`: {`id`, `message`, `timer`: {`kind` (`warning`, `final`), `due`, `about` (the
//!   dispatch's Message-ID), `recipients` (still waiting for delivery evidence)}}.
//!
//! ## `POST /api/queue/{id}/retry`
//!
//! A quarantined or failed message is processed again when it was never processed (its state
//! becomes `received`), else its deliveries that were not delivered are queued again (`queued`);
//! a queued message has its deliveries tried at once. 200
//! `{"id", "previous_state", "state"}`; 409 for a delivered message. The history and the legal
//! log record it.
//!
//! ## `DELETE /api/queue/{id}[?reason=TEXT]`
//!
//! Moves the message to quarantine: its pending deliveries and timers stop; nothing is deleted
//! (it stays listed with `state=quarantined`, and `retry` brings it back). `reason` (default
//! "discarded by an operator", at most 1000 bytes) is kept as `last_error` ("discarded:
//! TEXT"), in the history and in the legal log. 200 `{"id", "state": "quarantined",
//! "reason"}`; 409 for a message delivered or already quarantined.
//!
//! ## `GET /api/messages/{id}`: the trace
//!
//! The message asked for and everything correlated with it, on both sides:
//!
//! ```json
//! {"message": M, "deliveries": [D], "timers": [T],
//!  "records": [R],
//!  "related": [{"message": M, "deliveries": [D], "timers": [T],
//!               "via": [{"message_id": "<ev-1@rem.example.eu>", "as": "input"},
//!                       {"message_id": "<pr-1@pec.example.it>", "as": "output", "output": 0}]}],
//!  "truncated": false}
//! ```
//!
//! `records` are the correlation records reached ([`crate::correlate::Record`]: `direction`,
//! `created`, `pec_identificativo`, `pec_msgid`, `rem_message_id`, `rem_ua_message_id`,
//! `evidence_ids`, `input`, `output_message_id`, `kind`, `dispatch`). They are found from the
//! message's own `Message-ID` and its outputs'; every identifier of a record found is looked up
//! among the spool's inputs and outputs, and each spool message found (a `related` entry, with
//! the identifiers that led to it in `via`: `as` `input` when the identifier is that message's
//! own Message-ID, `output` with the output's index when it is one of its outputs') brings its
//! own identifiers, and so on. So the trace of a PEC envelope holds its REM dispatch (an
//! output), the REM receipts that came back about it and the PEC receipts made of them;
//! the trace of one of those receipts holds the envelope. The search stops at 50 related
//! messages, 200 records or 500 identifiers, with `truncated: true`.
//!
//! ## `ponte queue`
//!
//! ```text
//! ponte queue list [--state S]... [--limit N] [--json]   --ops URL --token-file FILE
//! ponte queue show ID [--json]                            --ops URL --token-file FILE
//! ponte queue retry ID [--json]                           --ops URL --token-file FILE
//! ponte queue discard ID [--reason TEXT] [--json]         --ops URL --token-file FILE
//! ```
//!
//! `--ops` defaults to `http://127.0.0.1:9025` (`http://` only; a path prefix is kept, for a
//! proxy that serves the API under one); `--token-file` is the file holding the token (the
//! gateway's own `[ops] token_file` on the same host). `list` prints a table (number, state,
//! format, kind, received, size, attempts, outputs, sender and recipients, and the last error
//! under a message that has one), `show` the message, its outputs, deliveries, timers and
//! history; `retry` and `discard` one line (`message 7: failed -> queued`,
//! `message 7: quarantined (peer gone)`). `--json` prints the server's JSON as it came,
//! refusals included. Exit **0** done; **1** refused by the server (404 unknown message,
//! 409 wrong state, 400); **2** could not ask: usage, the token file, the connection,
//! authentication (401, 403) or a server failure (5xx), on stderr as one line naming the URL.
