#!/usr/bin/python3
"""A real SMTP server for roster-server's delivery tests (Debian's python3-aiosmtpd).

STARTTLS and AUTH are required (as a real relay requires them). Each message received is parsed
with Python's own email package and written to OUT_DIR/<n>.json: envelope, headers, the text and
HTML parts decoded, and whether the session was TLS and authenticated. The bound port is written
to PORT_FILE once the server accepts connections.

Usage: smtp_sink.py --port N --port-file F --out DIR --cert C --key K --user U --password P
                    [--data-delay SECONDS]
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import ssl
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out_dir, delay):
        self.out_dir = out_dir
        self.delay = delay
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.delay > 0:
            # Holds the client between DATA and the reply: a sender killed now has handed over
            # the message without knowing whether it was taken.
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {}
        for part in message.walk():
            if part.get_content_maintype() == "text":
                parts[part.get_content_type()] = part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "headers": {k.lower(): str(v) for k, v in message.items()},
            "content_type": message.get_content_type(),
            "content_type_headers": len(message.get_all("content-type") or []),
            "text": parts.get("text/plain", ""),
            "html": parts.get("text/html", ""),
            "received_at": time.time(),
        }
        self.count += 1
        path = os.path.join(self.out_dir, "%06d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)  # Readers never see half a message.
        return "250 OK"


def main():
    # aiosmtpd 1.4 warns about its own use of a deprecated attribute on every AUTH.
    warnings.filterwarnings("ignore", message="Session.login_data")
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--data-delay", type=float, default=0)
    args = parser.parse_args()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == args.user.encode()
              and auth_data.password == args.password.encode())
        return AuthResult(success=ok)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    controller = Controller(
        Sink(args.out, args.data_delay), hostname="127.0.0.1", port=args.port,
        require_starttls=True, tls_context=context, auth_required=True,
        auth_require_tls=True, authenticator=authenticator)
    controller.start()
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(args.port))
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        signal.pause()  # Until the test kills it.
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
