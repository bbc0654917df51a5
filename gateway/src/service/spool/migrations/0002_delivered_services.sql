-- The services REM peers found by discovery were delivered to (EN 319 532-4 C.2.3.3.3): one
-- row per delivery, replaced by a later attempt of the same delivery. Evidence that comes
-- back about the output must be signed by that service's digital identity. `key` is the
-- output's Message-ID without <>.
CREATE TABLE ponte_delivered_services (
    delivery  bigint PRIMARY KEY,
    key       text NOT NULL,
    service   jsonb NOT NULL
);
CREATE INDEX ponte_delivered_services_key ON ponte_delivered_services (key);
