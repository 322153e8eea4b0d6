"""Roster from a Python service: BackendUsers with the secret key, error details, and session
tokens checked offline with PyJWT against the keys from GetJwks.

Stubs (Debian 12: protobuf-compiler, python3-grpcio, python3-protobuf, python3-jwt,
python3-cryptography), from the repository root:
  protoc -I proto --python_out=gen --grpc_out=gen \
    --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin \
    proto/roster/v1/*.proto proto/google/rpc/*.proto

Run: PYTHONPATH=gen ROSTER_ADDR=localhost:50051 ROSTER_SECRET_KEY=sk_... recipe.py EMAIL
It creates a user, shows two decoded errors, opens a session and verifies its token, then
verifies each token read from stdin, one per line ("valid SUB SID" or "refused WHY").
"""
import itertools
import os
import sys
import threading
import time

import grpc
import jwt
from google.rpc import error_details_pb2, status_pb2
from roster.v1 import backend_users_pb2, backend_users_pb2_grpc
from roster.v1 import frontend_users_pb2, frontend_users_pb2_grpc


def error_details(error: grpc.RpcError):
    """The code, the ErrorInfo reason and the BadRequest fields of a failed call."""
    status = status_pb2.Status()
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status.ParseFromString(value)
    reason, fields = "", []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return error.code().name, reason, fields


class UnknownKeyError(jwt.InvalidTokenError):
    """The token names a key that GetJwks does not list."""


class SessionVerifier:
    """Verifies session tokens offline. The keys are fetched once, cached, and fetched again
    when a token names an unknown kid (a key rotation), at most once per refetch_seconds."""

    def __init__(self, channel, issuer="roster", leeway=5, refetch_seconds=30):
        self._stub = frontend_users_pb2_grpc.FrontendUsersStub(channel)
        self._issuer, self._leeway, self._refetch = issuer, leeway, refetch_seconds
        self._keys, self._fetched_at, self._lock = None, 0.0, threading.Lock()

    def _fetch(self):
        jwks = self._stub.GetJwks(frontend_users_pb2.GetJwksRequest(), timeout=5,
                                  wait_for_ready=True)
        self._keys = {k.kid: jwt.PyJWK({"kty": k.kty, "crv": k.crv, "x": k.x}, "EdDSA").key
                      for k in jwks.keys if k.kty == "OKP" and k.crv == "Ed25519"}
        self._fetched_at = time.monotonic()
        print(f"jwks fetched {len(self._keys)}", flush=True)

    def _key(self, kid):
        with self._lock:
            if self._keys is None or (kid not in self._keys and
                                      time.monotonic() - self._fetched_at >= self._refetch):
                self._fetch()
            return self._keys.get(kid)

    def verify(self, token):
        """The claims of a valid token; raises jwt.InvalidTokenError otherwise."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "EdDSA":
            raise jwt.InvalidAlgorithmError("alg is not EdDSA")
        key = self._key(header.get("kid"))
        if key is None:
            raise UnknownKeyError(header.get("kid"))
        return jwt.decode(token, key, algorithms=["EdDSA"], issuer=self._issuer,
                          leeway=self._leeway,
                          options={"require": ["exp", "nbf", "iat", "iss", "sub", "sid"]})


def main():
    channel = grpc.insecure_channel(os.environ["ROSTER_ADDR"])
    backend = backend_users_pb2_grpc.BackendUsersStub(channel)
    auth = [("authorization", "Bearer " + os.environ["ROSTER_SECRET_KEY"])]

    user = backend.CreateUser(
        backend_users_pb2.CreateUserRequest(email_addresses=[sys.argv[1]]), metadata=auth)
    print("created", user.id)
    for email in (sys.argv[1], "not-an-email"):
        try:
            backend.CreateUser(backend_users_pb2.CreateUserRequest(email_addresses=[email]),
                               metadata=auth)
        except grpc.RpcError as error:
            code, reason, fields = error_details(error)
            print("error", code, reason, *fields)

    created = backend.CreateSession(backend_users_pb2.CreateSessionRequest(user_id=user.id),
                                    metadata=auth)
    verifier = SessionVerifier(
        channel, issuer=os.environ.get("ROSTER_ISSUER", "roster"),
        refetch_seconds=float(os.environ.get("ROSTER_JWKS_REFETCH_SECONDS", "30")))
    for token in itertools.chain([created.session_token], (line.strip() for line in sys.stdin)):
        try:
            claims = verifier.verify(token)
            print("valid", claims["sub"], claims["sid"], flush=True)
        except jwt.InvalidTokenError as error:
            print("refused", type(error).__name__, flush=True)


if __name__ == "__main__":
    main()
