"""Runs one language's client recipe (docs/examples/clients/<lang>) against a real
roster-server and checks what it prints: a user created with the secret key, two errors decoded
from their details, a session token verified offline, and then tokens this script makes
(tampered, expired, not yet valid, wrong issuer, alg none, HS256 keyed with the public key,
another key under the server's kid, an unknown kid) all refused. The server's signing key is
then rotated (restarted on the same port and database, signing with a new key and still
publishing the old one): the recipe must fetch the keys again for the new kid and accept the
new token, and still accept the old key's. A second run with the recipe's default refetch
interval checks that a flood of unknown kids does not become a flood of GetJwks calls.

  check_recipe.py --lang python|node|go|cpp --server BIN --build-dir BUILD --work DIR
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
import jwt

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROTO = os.path.join(REPO, "proto")
RECIPES = os.path.join(REPO, "docs", "examples", "clients")
SECRET_KEY = "sk_test_" + "c" * 40


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def protos(*folder):
    """The .proto files of proto/<folder>, as paths."""
    here = os.path.join(PROTO, *folder)
    return sorted(os.path.join(here, f) for f in os.listdir(here) if f.endswith(".proto"))


def prepare_python(work, _build_dir):
    gen = os.path.join(work, "gen")
    os.makedirs(gen, exist_ok=True)
    run(["protoc", "-I", PROTO, f"--python_out={gen}", f"--grpc_out={gen}",
         "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
         *protos("roster", "v1"), *protos("google", "rpc")])
    return ["/usr/bin/python3", os.path.join(RECIPES, "python", "recipe.py")], {"PYTHONPATH": gen}


def prepare_node(work, _build_dir):
    here = os.path.join(RECIPES, "node")
    for name in ("package.json", "package-lock.json", "recipe.mjs"):
        shutil.copy(os.path.join(here, name), work)
    lock = os.path.join(work, "package-lock.json")
    stamp = os.path.join(work, "node_modules", ".package-lock.json.src")
    if not os.path.exists(stamp) or open(stamp).read() != open(lock).read():
        run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=work)
        shutil.copy(lock, stamp)
    return ["node", os.path.join(work, "recipe.mjs")], {"ROSTER_PROTO_DIR": PROTO}


def prepare_go(work, _build_dir):
    gopath = os.path.join(work, "gopath")
    src = os.path.join(gopath, "src")
    os.makedirs(os.path.join(src, "recipe"), exist_ok=True)
    mappings = ",".join([
        "Mgoogle/rpc/status.proto=google.golang.org/genproto/googleapis/rpc/status",
        "Mgoogle/rpc/error_details.proto=google.golang.org/genproto/googleapis/rpc/errdetails"])
    run(["protoc", "-I", PROTO, f"--go_out={src}", f"--go_opt={mappings}",
         f"--go-grpc_out={src}", f"--go-grpc_opt={mappings}",
         *protos("roster", "v1")])
    shutil.copy(os.path.join(RECIPES, "go", "recipe.go"), os.path.join(src, "recipe", "main.go"))
    binary = os.path.join(work, "recipe-go")
    env = dict(os.environ, GO111MODULE="off", GOPATH=f"{gopath}:/usr/share/gocode",
               GOCACHE=os.path.join(work, "gocache"), GOFLAGS="-buildvcs=false")
    run(["go", "build", "-o", binary, "recipe"], env=env, cwd=src)
    return [binary], {}


def prepare_cpp(work, build_dir):
    prefix = os.path.join(work, "prefix")
    shutil.rmtree(prefix, ignore_errors=True)
    run(["cmake", "--install", build_dir, "--prefix", prefix, "--component", "Unspecified"])
    build = os.path.join(work, "build")
    run(["cmake", "-S", os.path.join(RECIPES, "cpp"), "-B", build,
         f"-DCMAKE_PREFIX_PATH={prefix}"])
    run(["cmake", "--build", build])
    return [os.path.join(build, "recipe")], {}


def check_snippets(lang):
    """Every line of docs/clients.md's snippets of this language's recipe is a line of it."""
    doc = open(os.path.join(REPO, "docs", "clients.md")).read()
    blocks = re.findall(r"<!-- snippet: (docs/examples/clients/(\w+)/\S+) -->\n```\w*\n(.*?)```",
                        doc, re.S)
    checked = 0
    for path, block_lang, block in blocks:
        if block_lang != lang:
            continue
        lines = {line.strip() for line in open(os.path.join(REPO, path))}
        for line in block.splitlines():
            if line.strip() and line.strip() not in lines:
                sys.exit(f"FAIL docs/clients.md shows a line that {path} does not have: {line!r}")
            checked += 1
    if checked == 0:
        sys.exit(f"FAIL docs/clients.md has no snippet of the {lang} recipe")
    print(f"ok   docs/clients.md's {checked} {lang} snippet lines are the recipe's")


class Server:
    """roster-server on loopback, --dev in `work`, signing with `key` (a PEM file)."""

    def __init__(self, binary, work, key, extra_keys=(), port=0):
        args = [binary, "--dev", f"--db={os.path.join(work, 'roster.db')}",
                f"--listen=127.0.0.1:{port}", f"--secret_keys={SECRET_KEY}",
                f"--signing_key_file={key}", "--http_listen=127.0.0.1:0"]
        if extra_keys:
            args.append("--extra_verification_key_files=" + ",".join(extra_keys))
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
        log = []
        for line in self.process.stderr:
            log.append(line)
            match = re.search(r'"msg":"serving".*"port":(\d+)', line)
            if match:
                self.port = int(match.group(1))
                return
        sys.exit("roster-server did not start:\n" + "".join(log))

    def stop(self):
        self.process.terminate()
        self.process.stderr.read()
        if self.process.wait(timeout=30) != 0:
            sys.exit("roster-server did not exit 0 on SIGTERM")


def new_key(path):
    key = Ed25519PrivateKey.generate()
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return key


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(key):
    x = b64(key.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw))
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    digest = hashes.Hash(hashes.SHA256())
    digest.update(canonical.encode())
    return b64(digest.finalize())


class Recipe:
    """The recipe's process: tokens go in on stdin, one answer line comes back for each."""

    def __init__(self, cmd, env, email):
        self.process = subprocess.Popen(cmd + [email], env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.fetches = 0

    def line(self):
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"the recipe exited ({self.process.wait()}) before answering")
        line = line.strip()
        print("  recipe:", line)
        if line.startswith("jwks fetched"):
            self.fetches += 1
            return self.line()
        return line

    def verify(self, token):
        self.process.stdin.write(token + "\n")
        self.process.stdin.flush()
        return self.line()

    def close(self):
        self.process.stdin.close()
        if self.process.wait(timeout=30) != 0:
            sys.exit("the recipe did not exit 0")


def expect(what, got, pattern):
    if not re.fullmatch(pattern, got):
        sys.exit(f"FAIL {what}: got {got!r}, want /{pattern}/")
    print(f"ok   {what}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lang", required=True, choices=["python", "node", "go", "cpp"])
    parser.add_argument("--server", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    for stale in ("roster.db", "roster.db-wal", "roster.db-shm"):
        if os.path.exists(os.path.join(work, stale)):
            os.remove(os.path.join(work, stale))
    check_snippets(args.lang)
    started = time.monotonic()
    cmd, extra_env = globals()[f"prepare_{args.lang}"](work, os.path.abspath(args.build_dir))
    print(f"{args.lang}: stubs generated and recipe built in {time.monotonic() - started:.1f} s")

    key1 = new_key(os.path.join(work, "key1.pem"))
    key2 = new_key(os.path.join(work, "key2.pem"))
    stranger = Ed25519PrivateKey.generate()
    server = Server(args.server, work, os.path.join(work, "key1.pem"))
    try:
        env = dict(os.environ, ROSTER_ADDR=f"127.0.0.1:{server.port}",
                   ROSTER_SECRET_KEY=SECRET_KEY, ROSTER_JWKS_REFETCH_SECONDS="0", **extra_env)
        recipe = Recipe(cmd, env, f"ada-{args.lang}@example.com")
        created = recipe.line()
        expect("CreateUser with the secret key", created, r"created user_\w+")
        user_id = created.split()[1]
        expect("ErrorInfo of a taken email", recipe.line(),
               r"error ALREADY_EXISTS IDENTIFIER_EXISTS email_addresses\[0\]")
        expect("BadRequest of a bad email", recipe.line(),
               r"error INVALID_ARGUMENT \w+ email_addresses\[0\]")
        expect("the session's own token", recipe.line(), rf"valid {user_id} sess_\w+")
        if recipe.fetches != 1:
            sys.exit(f"FAIL the keys were fetched {recipe.fetches} times for one token")

        now = int(time.time())
        claims = {"iss": "roster", "sub": user_id, "sid": "sess_made_here", "iat": now,
                  "nbf": now, "exp": now + 300}
        kid1 = thumbprint(key1)

        def signed(key, kid=kid1, **changes):
            return jwt.encode({**claims, **changes}, key, algorithm="EdDSA",
                              headers={"kid": kid})

        expect("a token signed with the server's key", recipe.verify(signed(key1)),
               rf"valid {user_id} sess_made_here")
        header, payload, signature = signed(key1).split(".")
        forged = b64(json.dumps({**claims, "sub": "user_someone_else"}).encode())
        public_raw = key1.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw)
        hs256 = ".".join([b64(json.dumps({"alg": "HS256", "kid": kid1}).encode()), payload])
        hs256 += "." + b64(hmac.new(b64(public_raw).encode(), hs256.encode(),
                                    hashlib.sha256).digest())
        refused = {
            "tampered claims": f"{header}.{forged}.{signature}",
            "expired (beyond the leeway)": signed(key1, iat=now - 400, nbf=now - 400,
                                                  exp=now - 60),
            "not yet valid": signed(key1, nbf=now + 120, exp=now + 400),
            "wrong issuer": signed(key1, iss="someone-else"),
            "no expiry": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, key1,
                                    algorithm="EdDSA", headers={"kid": kid1}),
            "alg none": ".".join([b64(json.dumps({"alg": "none", "kid": kid1}).encode()),
                                  payload, ""]),
            "HS256 keyed with the public key": hs256,
            "another key under the server's kid": signed(stranger),
            "not a JWT": "not.a.token",
        }
        for what, token in refused.items():
            expect(f"refused: {what}", recipe.verify(token), r"refused .*")
        if recipe.fetches != 1:
            sys.exit(f"FAIL known kids caused {recipe.fetches - 1} extra fetches")
        expect("refused: an unknown kid (after fetching the keys again)",
               recipe.verify(signed(stranger, kid=thumbprint(stranger))), r"refused .*")
        if recipe.fetches != 2:
            sys.exit("FAIL an unknown kid did not fetch the keys again")

        # Rotation: the server now signs with key2 and still publishes key1.
        server.stop()
        server = Server(args.server, work, os.path.join(work, "key2.pem"),
                        extra_keys=[os.path.join(work, "key1.pem")], port=server.port)
        expect("a token from the rotated key (fetched on its new kid)",
               recipe.verify(signed(key2, kid=thumbprint(key2))),
               rf"valid {user_id} sess_made_here")
        if recipe.fetches != 3:
            sys.exit("FAIL the rotated key's kid did not fetch the keys")
        expect("a token from the old key, still published",
               recipe.verify(signed(key1)), rf"valid {user_id} sess_made_here")
        recipe.close()

        # The default refetch interval: unknown kids after the first fetch fetch nothing.
        env.pop("ROSTER_JWKS_REFETCH_SECONDS")
        recipe = Recipe(cmd, env, f"grace-{args.lang}@example.com")
        expect("a second user", recipe.line(), r"created user_\w+")
        recipe.line()
        recipe.line()
        expect("its session's token", recipe.line(), r"valid user_\w+ sess_\w+")
        for i in range(5):
            other = Ed25519PrivateKey.generate()
            expect(f"refused: made-up kid {i + 1}", recipe.verify(signed(other, kid=thumbprint(other))),
                   r"refused .*")
        if recipe.fetches != 1:
            sys.exit(f"FAIL 5 made-up kids caused {recipe.fetches - 1} fetches within the interval")
        print("ok   5 made-up kids caused no fetch within the refetch interval")
        recipe.close()
    finally:
        server.stop()
    print(f"{args.lang}: recipe passed in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
