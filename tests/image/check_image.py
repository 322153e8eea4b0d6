#!/usr/bin/python3
"""The shipped image, run as Kubernetes would run it, without a container engine.

Builds the image (scripts/image.sh), exports its root filesystem, and starts the image's own
entrypoint as the image's own user from that filesystem, mounted read-only in a private mount
namespace, with only the volumes the rendered manifests mount: the data volume writable, the
key Secret read-only (0440, group 10001, as `defaultMode` and `fsGroup` make it) and /tmp a
small tmpfs. The environment is the image's, then the manifest's ConfigMap and env; only the
listen addresses move to free loopback ports and the key files hold test keys.

The real `roster` CLI then creates a user, reads it, signs in, and restarts the server on the
same volume to find the user again and sign in again. Once on the base manifests (SQLite on the
data volume) and, when ROSTER_TEST_POSTGRES_DSN names a cluster (scripts/with-postgres.sh), once
on the PostgreSQL overlay with its database Secret's DSN pointed at that cluster.

Fails on a listed package that does not exist (the build fails), a runtime library the binary
cannot find, a compiler or headers in the image, a root user, a binary that does not start, or
any write outside the mounted volumes (the root is read-only).

  scripts/with-postgres.sh tests/image/check_image.py --cli build/bin/roster
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UID = 10001
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)
    return condition


def engine():
    if shutil.which("docker") and subprocess.run(["docker", "info"],
                                                 capture_output=True).returncode == 0:
        return "docker"
    return "podman"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


def render(path):
    out = subprocess.run(["kubectl", "kustomize", path], check=True, capture_output=True,
                         text=True).stdout
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}


def workload(docs):
    for (kind, _), doc in docs.items():
        if kind in ("StatefulSet", "Deployment"):
            return doc
    raise SystemExit("no workload in the rendered manifests")


def export_rootfs(tag, into):
    tool = engine()
    container = subprocess.run([tool, "create", tag], check=True, capture_output=True,
                               text=True).stdout.strip()
    try:
        exported = subprocess.Popen([tool, "export", container], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", into], stdin=exported.stdout, check=True)
        check(exported.wait() == 0, f"{tool} export of {tag}")
    finally:
        subprocess.run([tool, "rm", container], capture_output=True)
    config = json.loads(subprocess.run([tool, "image", "inspect", "--format",
                                        "{{json .Config}}", tag], check=True,
                                       capture_output=True, text=True).stdout)
    return config


def check_contents(rootfs, config):
    user = config.get("User", "")
    check(user.split(":")[0] not in ("", "0", "root"), f"the image runs as a non-root user ({user})")
    entrypoint = config["Entrypoint"]
    binary = rootfs + entrypoint[0]
    check(os.access(binary, os.X_OK), f"the entrypoint {entrypoint[0]} is in the image")
    ldd = subprocess.run(["chroot", rootfs, "/usr/bin/ldd", entrypoint[0]],
                         capture_output=True, text=True)
    missing = [line.strip() for line in ldd.stdout.splitlines() if "not found" in line]
    check(ldd.returncode == 0 and not missing,
          f"every library roster-server links is in the image {missing or ''}")
    for tool in ("usr/bin/g++", "usr/bin/gcc", "usr/bin/cc", "usr/bin/cmake", "usr/bin/protoc"):
        check(not os.path.exists(os.path.join(rootfs, tool)), f"no /{tool} in the image")
    headers = [d for d in ("grpcpp", "google/protobuf", "absl", "sodium.h")
               if os.path.exists(os.path.join(rootfs, "usr/include", d))]
    check(not headers, f"no development headers in the image {headers or ''}")


class Server:
    """roster-server from the exported root, as the pod runs it."""

    def __init__(self, rootfs, config, env, mounts, log_path):
        self.rootfs, self.config, self.env, self.mounts = rootfs, config, env, mounts
        self.log_path = log_path
        self.process = None

    def start(self):
        # Mounts made inside a private namespace vanish with the process; the root is made
        # read-only before the volumes go on it, so only they can be written.
        script = ['set -e', 'r="$1"; shift',
                  'mount --bind "$r" "$r"', 'mount -o remount,bind,ro "$r" "$r"',
                  'mount -t proc proc "$r/proc"']
        for device in ("null", "zero", "random", "urandom"):
            script.append(f'mount --bind /dev/{device} "$r/dev/{device}"')
        for kind, source, target in self.mounts:
            if kind == "tmpfs":
                script.append(f'mount -t tmpfs -o size={source},mode=1777 tmpfs "$r{target}"')
            elif kind == "ro":
                script.append(f'mount --bind "{source}" "$r{target}"')
                script.append(f'mount -o remount,bind,ro "$r{target}"')
            else:
                script.append(f'mount --bind "{source}" "$r{target}"')
        user = self.config["User"]
        if ":" not in user:
            user += ":" + user
        script.append(f'exec chroot --userspec={user} "$r" "$@"')
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
             "\n".join(script), "roster-image", self.rootfs, *self.config["Entrypoint"],
             *(self.config.get("Cmd") or [])],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd="/")
        log.close()

    def probe(self, *command):
        """Runs `command` in place of the entrypoint, with the same mounts and user."""
        saved = self.config
        self.config = dict(saved, Entrypoint=list(command), Cmd=[])
        try:
            self.start()
            return self.process.wait(timeout=30)
        finally:
            self.config = saved

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return "killed after 30 s"
        return self.process.returncode if self.process else None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


class Cli:
    """The roster CLI: `me` and `health` commands to FrontendUsers' port, the rest to
    BackendUsers' (the same port unless the manifests split them)."""

    def __init__(self, binary, addr, backend_addr, secret_key):
        self.binary, self.addr, self.backend_addr = binary, addr, backend_addr
        self.secret_key = secret_key

    def __call__(self, *args, token=None, check_ok=True):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ROSTER_SECRET_KEY": self.secret_key}
        if token:
            env["ROSTER_TOKEN"] = token
        addr = self.addr if args[0] in ("me", "health") else self.backend_addr
        done = subprocess.run([self.binary, f"--addr={addr}", "--timeout=10s", *args],
                              env=env, capture_output=True, text=True)
        if check_ok and done.returncode != 0:
            raise RuntimeError(f"roster {' '.join(args[:2])} exited {done.returncode}: "
                               f"{done.stderr.strip()}")
        return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else None

    def wait_serving(self, server, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            if self("health", "check", check_ok=False) is not None:
                return True
            time.sleep(0.2)
        return False


def run_deployment(name, manifests, rootfs, config, cli_binary, work, dsn=None):
    """Starts the image as `manifests` would, twice on the same volume; returns nothing."""
    print(f"-- {name}", flush=True)
    docs = render(manifests)
    pod = workload(docs)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    for source in container.get("envFrom", []):
        env.update(docs[("ConfigMap", source["configMapRef"]["name"])]["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            secret = docs[("Secret", ref["name"])]["stringData"][ref["key"]]
            check(dsn is not None, f"{item['name']} comes from Secret {ref['name']}")
            env[item["name"]] = dsn if "REPLACE_ME" in secret else secret
    # Every listener on a free loopback port (the pod's network is the host's here).
    ports = {}
    for key in [k for k in env if k.endswith("_LISTEN")]:
        ports[key] = free_port()
        env[key] = f"127.0.0.1:{ports[key]}"
    grpc_port = ports["ROSTER_LISTEN"]
    backend_port = ports.get("ROSTER_BACKEND_LISTEN", grpc_port)

    # Volumes as the pod mounts them.
    secret_key = os.urandom(32).hex()
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    claims = {c["metadata"]["name"] for c in
              workload(docs)["spec"].get("volumeClaimTemplates", [])}
    mounts, data_dir = [], None
    for mount in container.get("volumeMounts", []):
        target = mount["mountPath"]
        volume = volumes.get(mount["name"], {})
        os.makedirs(rootfs + target, exist_ok=True)  # As the runtime makes mount points.
        if mount["name"] in claims:
            data_dir = os.path.join(work, f"{name}-{mount['name']}")
            os.makedirs(data_dir, exist_ok=True)
            os.chown(data_dir, UID, UID)  # fsGroup's effect on a fresh volume.
            mounts.append(("rw", data_dir, target))
        elif "secret" in volume:
            keys = os.path.join(work, f"{name}-{mount['name']}")
            os.makedirs(keys, exist_ok=True)
            files = {"secret_keys": secret_key + "\n",
                     "signing_key": os.urandom(32).hex() + "\n"}
            for file, text in files.items():
                path = os.path.join(keys, file)
                with open(path, "w") as f:
                    f.write(text)
                os.chown(path, 0, UID)
                os.chmod(path, volume["secret"].get("defaultMode", 0o644))
            mounts.append(("ro", keys, target))
        elif "emptyDir" in volume:
            size = volume["emptyDir"].get("sizeLimit", "64Mi").replace("Mi", "m")
            mounts.append(("tmpfs", size, target))
        else:
            check(False, f"{name}: volume {mount['name']} has a kind this test can mount")
    for device in ("null", "zero", "random", "urandom"):
        open(os.path.join(rootfs, "dev", device), "a").close()

    cli = Cli(cli_binary, f"127.0.0.1:{grpc_port}", f"127.0.0.1:{backend_port}", secret_key)
    server = Server(rootfs, config, env, mounts, os.path.join(work, f"{name}.log"))
    email = f"ada-{os.urandom(4).hex()}@example.com"
    password = "correct horse battery staple"
    try:
        check(server.probe("/bin/sh", "-c", "echo > /usr/local/bin/probe") != 0,
              f"{name}: the root filesystem is read-only to the server")
        if data_dir:
            check(server.probe("/bin/sh", "-c", "echo > /var/lib/roster/probe && "
                               "rm /var/lib/roster/probe") == 0,
                  f"{name}: the data volume is writable by uid {UID}")
        server.start()
        if not check(cli.wait_serving(server), f"{name}: the image's roster-server serves"):
            print(server.log()[-4000:])
            return
        created = cli("users", "create", json.dumps(
            {"email_addresses": [email], "password": password, "first_name": "Ada"}))
        check(created and created["id"].startswith("user_"), f"{name}: CreateUser")
        got = cli("users", "get", json.dumps({"user_id": created["id"]}))
        check(got["first_name"] == "Ada", f"{name}: GetUser reads it back")
        signed_in = cli("me", "sign-in", json.dumps({"identifier": email, "password": password}))
        me = cli("me", "get", "{}", token=signed_in["session_token"])
        check(me["id"] == created["id"], f"{name}: SignIn, then GetMe with its token")
        got = cli("users", "get", json.dumps({"user_id": created["id"]}))  # With its sign-in.
        if "ROSTER_METRICS_LISTEN" in ports:
            scrape = http_get(ports["ROSTER_METRICS_LISTEN"], "/metrics")
            check(scrape[0] == 200 and "roster_rpcs_total{" in scrape[1],
                  f"{name}: Prometheus scrapes the metrics listener")
        if "ROSTER_HTTP_LISTEN" in ports:
            check(http_get(ports["ROSTER_HTTP_LISTEN"], "/metrics")[0] == 404,
                  f"{name}: the public HTTP listener serves no metrics")
            status, page = http_get(ports["ROSTER_HTTP_LISTEN"], "/sign-in")
            check(status == 200 and "/portal/portal.js" in page,
                  f"{name}: the account portal's pages are in the binary")
        check(server.stop() == 0, f"{name}: SIGTERM drains and exits 0")

        server.start()
        check(cli.wait_serving(server), f"{name}: restarts on the same volume")
        again = cli("users", "get", json.dumps({"user_id": created["id"]}))
        check(again == got, f"{name}: the user survived the restart unchanged")
        signed_in = cli("me", "sign-in", json.dumps({"identifier": email, "password": password}))
        check(bool(signed_in.get("session_token")), f"{name}: SignIn after the restart")
        check(server.stop() == 0, f"{name}: second SIGTERM exits 0")
        if data_dir:
            check(os.path.exists(os.path.join(data_dir, "roster.db")),
                  f"{name}: the database is on the data volume")
    except Exception as error:  # A failed call: report it with the server's log.
        check(False, f"{name}: {error}")
        print(server.log()[-4000:])
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True, help="the roster CLI binary")
    args = parser.parse_args()
    cli = os.path.abspath(args.cli)

    build = subprocess.run([os.path.join(ROOT, "scripts/image.sh")], capture_output=True,
                           text=True)
    sys.stderr.write(build.stderr)
    if not check(build.returncode == 0, "the image builds from deploy/Dockerfile"):
        sys.exit(1)
    print(build.stdout, end="")
    tag = build.stdout.split("image: ", 1)[1].split()[0]

    work = tempfile.mkdtemp(prefix="roster-image.")
    os.chmod(work, 0o755)
    try:
        rootfs = os.path.join(work, "rootfs")
        os.mkdir(rootfs)
        config = export_rootfs(tag, rootfs)
        check_contents(rootfs, config)
        run_deployment("sqlite", os.path.join(ROOT, "deploy/k8s"), rootfs, config, cli, work)
        dsn = os.environ.get("ROSTER_TEST_POSTGRES_DSN")
        if dsn:
            run_deployment("postgres", os.path.join(ROOT, "deploy/k8s/overlays/postgres"),
                           rootfs, config, cli, work, dsn=dsn)
        else:
            check(os.environ.get("CI") != "true",
                  "PostgreSQL overlay (ROSTER_TEST_POSTGRES_DSN unset: skipped)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"image check failed: {len(failures)} problem(s)")
        sys.exit(1)
    print("image check: the image builds, holds what it needs, and serves on both stores")


if __name__ == "__main__":
    main()
