#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for Kabao's mail tests: it accepts every message and appends it, parsed as MIME
by Python's email package, as one JSON line to --out: envelope, From, To, Subject, content type, the decoded
text, and whether the session was under TLS. With --cert/--key it offers STARTTLS and refuses mail without it.

Prints {"port": N} on its first line once listening; stops when its stdin closes."""

import argparse
import email
import email.policy
import json
import socket
import ssl
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "content_type": msg.get_content_type(),
            "charset": msg.get_content_charset(),
            "text": body.get_content() if body is not None else "",
            "tls": getattr(session, "ssl", None) is not None,
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()
    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
    port = free_port()
    kwargs = {"hostname": "127.0.0.1", "port": port}
    if tls is not None:
        kwargs.update(tls_context=tls, require_starttls=True)
    controller = Controller(Sink(args.out), **kwargs)
    controller.start()
    print(json.dumps({"port": port}), flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
