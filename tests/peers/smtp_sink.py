#!/usr/bin/python3
"""A real SMTP server for Ponte's tests, in a process of its own (Debian python3-aiosmtpd).

Run it with /usr/bin/python3 (a pyenv python3 first on PATH has no aiosmtpd):

    /usr/bin/python3 tests/peers/smtp_sink.py --listen 127.0.0.1:0 --dir OUT [options]

Once listening it prints one line on stdout, `ready HOST:PORT` (the port actually bound when
--listen asked for port 0); tests wait for it. It runs until killed.

What it keeps, in --dir:
  N.eml             message N (1, 2, ...) exactly as received: the DATA content after
                    dot-unstuffing, CRLF line ends, up to and including the CRLF before the
                    final "."
  N.json            {"n", "mail_from", "rcpt_tos", "peer", "connection", "tls", "helo",
                    "pipelined" (RCPT TO was already buffered when MAIL FROM was answered)}; written
                    after N.eml (both renamed into place), so once N.json exists both are whole.
                    The 250 to DATA is sent only after both are on disk.
  connections.log   one line per connection, "CONN PEER_IP:PEER_PORT", appended as it opens.

Options that make it misbehave the way real peers do:
  --refuse-file F    while F exists, MAIL, RCPT and DATA get "451 4.3.2" (a peer that is down
                     for maintenance; create and remove F from the test)
  --reject-rcpt RE   recipients matching RE (Python regex, searched) get "550 5.1.1"
  --defer-rcpt RE    recipients matching RE get "451 4.2.1" (a mailbox temporarily unavailable)
  --reject-data      DATA gets "554 5.6.0" after the content was received (nothing written)
  --tls-cert/--tls-key PEM files: offer STARTTLS
  --require-tls      with --tls-*: refuse MAIL before STARTTLS ("530")
  --pipelining       advertise PIPELINING (RFC 2920) in EHLO, as Postfix does; aiosmtpd reads
                     a pipelined group command by command either way
"""

import argparse
import asyncio
import json
import os
import re
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, args):
        self.dir = args.dir
        self.refuse_file = args.refuse_file
        self.reject_rcpt = re.compile(args.reject_rcpt) if args.reject_rcpt else None
        self.defer_rcpt = re.compile(args.defer_rcpt) if args.defer_rcpt else None
        self.reject_data = args.reject_data
        self.messages = 0
        self.connections = 0
        os.makedirs(self.dir, exist_ok=True)
        # Continue the numbering of a folder used before (a sink restarted by a test).
        for name in os.listdir(self.dir):
            stem = name.split(".", 1)[0]
            if stem.isdigit():
                self.messages = max(self.messages, int(stem))
        self.log = open(os.path.join(self.dir, "connections.log"), "a", buffering=1)

    def refusing(self):
        return self.refuse_file is not None and os.path.exists(self.refuse_file)

    def connected(self, peer):
        self.connections += 1
        host, port = (peer[0], peer[1]) if peer else ("?", 0)
        self.log.write(f"{self.connections} {host}:{port}\n")
        self.log.flush()
        return self.connections

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refusing():
            return "451 4.3.2 sink refusing (refuse-file present)"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        # Already buffered behind MAIL FROM: the client did not wait for this reply.
        envelope.pipelined = bool(getattr(server._reader, "_buffer", b""))
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refusing():
            return "451 4.3.2 sink refusing (refuse-file present)"
        if self.reject_rcpt is not None and self.reject_rcpt.search(address):
            return f"550 5.1.1 <{address}>: no such mailbox"
        if self.defer_rcpt is not None and self.defer_rcpt.search(address):
            return f"451 4.2.1 <{address}>: mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refusing():
            return "451 4.3.2 sink refusing (refuse-file present)"
        if self.reject_data:
            return "554 5.6.0 sink rejects the content (reject-data)"
        self.messages += 1
        n = self.messages
        meta = {
            "n": n,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": f"{session.peer[0]}:{session.peer[1]}" if session.peer else None,
            "connection": getattr(server, "connection_no", None),
            "tls": session.ssl is not None,
            "helo": session.host_name,
            "pipelined": getattr(envelope, "pipelined", False),
        }
        write(os.path.join(self.dir, f"{n}.eml"), envelope.original_content)
        write(os.path.join(self.dir, f"{n}.json"), json.dumps(meta).encode())
        return f"250 2.0.0 OK queued as {n}"


class PipeliningSink(Sink):
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        # Before the final "250 HELP" line.
        return responses[:-1] + ["250-PIPELINING"] + responses[-1:]


def write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


class SinkSMTP(SMTP):
    # Ponte's outputs keep their lines short, but a sink must not be what refuses a message:
    # long lines are accepted (the limit also sizes the stream reader's buffer).
    line_length_limit = 1 << 20

    def __init__(self, sink, **kw):
        super().__init__(sink, **kw)
        self.sink = sink
        self.connection_no = None

    def connection_made(self, transport):
        if self.connection_no is None:  # not the STARTTLS re-entry
            self.connection_no = self.sink.connected(transport.get_extra_info("peername"))
        super().connection_made(transport)


def parse_listen(s):
    host, _, port = s.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


async def main():
    p = argparse.ArgumentParser(description="SMTP sink for Ponte's tests")
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--dir", required=True)
    p.add_argument("--refuse-file")
    p.add_argument("--reject-rcpt")
    p.add_argument("--defer-rcpt")
    p.add_argument("--reject-data", action="store_true")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--require-tls", action="store_true")
    p.add_argument("--pipelining", action="store_true")
    p.add_argument("--hostname", default="sink.test")
    args = p.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.require_tls and not args.tls_cert:
        p.error("--require-tls needs --tls-cert and --tls-key")
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    sink = PipeliningSink(args) if args.pipelining else Sink(args)
    host, port = parse_listen(args.listen)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SinkSMTP(
            sink,
            hostname=args.hostname,
            data_size_limit=None,
            tls_context=tls,
            require_starttls=args.require_tls,
            timeout=60,
            loop=loop,
        ),
        host,
        port,
    )
    bound = server.sockets[0].getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    print(f"ready {shown}:{bound[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
