#!/usr/bin/env python3
"""Verifies one roster-server SMS webhook request, as a receiver should.

roster-server signs each POST with the header
    Roster-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
keyed with the content of --sms_webhook_secret_file (surrounding whitespace removed).

Usage: verify_sms_webhook.py SECRET_FILE SIGNATURE_HEADER < raw_body
Exit 0 and print the JSON body when the signature holds and is under 5 minutes old; exit 1 otherwise.
"""
import hashlib
import hmac
import json
import sys
import time

TOLERANCE_SECONDS = 300  # Refuse replays of old requests.


def verify(secret: bytes, header: str, body: bytes, now: float) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, signature = fields.get("t", ""), fields.get("v1", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)  # Constant time.


def main() -> int:
    secret = open(sys.argv[1], "rb").read().strip()
    body = sys.stdin.buffer.read()
    if not verify(secret, sys.argv[2], body, time.time()):
        return 1
    print(json.dumps(json.loads(body)))  # {"to", "body", "purpose", "event_id"}
    return 0


if __name__ == "__main__":
    sys.exit(main())
