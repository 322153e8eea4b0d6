#!/usr/bin/env python3
"""Checks deploy/ without a cluster or a Docker engine.

1. `kubectl kustomize deploy/k8s` renders, and the manifests hold what
   operations rely on: one replica on a PVC, non-root and read-only, native
   gRPC probes, resources, a drain deadline shorter than the termination grace
   period, selectors that match, and only ROSTER_* settings the server knows.
2. `kubectl kustomize deploy/k8s/overlays/postgres` renders three stateless
   replicas in a Deployment scaled by an HPA, with the DSN from a Secret key
   that exists, readiness on roster.v1.BackendUsers, and the same hardening.
3. Every package the Dockerfile installs exists, and its runtime stage installs
   (directly or as dependencies) the package of every shared library the built
   roster-server links. `make test-image` builds and runs the image itself.
4. Every flag roster-server defines has its row in docs/operations.md, the
   operator's reference.

Usage: check_deploy.py REPO_ROOT ROSTER_SERVER_BINARY
"""
import re
import subprocess
import sys

import yaml

root, binary = sys.argv[1], sys.argv[2]
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
    return condition


rendered = subprocess.run(["kubectl", "kustomize", f"{root}/deploy/k8s"],
                          check=True, capture_output=True, text=True).stdout
docs = {d["kind"]: d for d in yaml.safe_load_all(rendered) if d}
for kind in ["ConfigMap", "Secret", "Service", "StatefulSet", "PodDisruptionBudget"]:
    check(kind in docs, f"{kind} is rendered")

sts = docs["StatefulSet"]
spec = sts["spec"]
pod = spec["template"]["spec"]
container = pod["containers"][0]
labels = spec["template"]["metadata"]["labels"]
check(spec["replicas"] == 1, "one replica (SQLite has one writer)")
check(spec["volumeClaimTemplates"][0]["metadata"]["name"] == "data", "a PVC for the data")
check(any(m["mountPath"] == "/var/lib/roster" and m["name"] == "data"
          for m in container["volumeMounts"]), "the PVC holds /var/lib/roster")
check(pod["securityContext"]["runAsNonRoot"] is True, "runAsNonRoot")
sc = container["securityContext"]
check(sc["allowPrivilegeEscalation"] is False, "no privilege escalation")
check(sc["readOnlyRootFilesystem"] is True, "read-only root filesystem")
check(sc["capabilities"]["drop"] == ["ALL"], "all capabilities dropped")
for probe in ["livenessProbe", "readinessProbe", "startupProbe"]:
    check(container[probe]["grpc"]["port"] == 50051, f"{probe} is a native gRPC probe")
check(container["readinessProbe"]["grpc"].get("service") == "roster.v1.BackendUsers",
      "readiness asks for roster.v1.BackendUsers")
for kind in ["requests", "limits"]:
    check({"cpu", "memory"} <= set(container["resources"][kind]), f"resource {kind}")
for selector_of in [docs["Service"]["spec"]["selector"],
                    docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
                    spec["selector"]["matchLabels"]]:
    check(all(labels.get(k) == v for k, v in selector_of.items()), f"selector {selector_of} matches")

# Every reference resolves: mounts name volumes (or claim templates), volumes and envFrom name
# rendered Secrets/ConfigMaps, and every *_FILE setting points into a mounted Secret at a key
# that Secret has.
volumes = {v["name"]: v for v in pod.get("volumes", [])}
claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
for mount in container["volumeMounts"]:
    check(mount["name"] in volumes or mount["name"] in claims,
          f"volume mount {mount['name']} has a volume")
rendered_names = {(d["kind"], d["metadata"]["name"]) for d in docs.values()}
for volume in volumes.values():
    if "secret" in volume:
        check(("Secret", volume["secret"]["secretName"]) in rendered_names,
              f"Secret {volume['secret']['secretName']} exists")
for source in container.get("envFrom", []):
    if "configMapRef" in source:
        check(("ConfigMap", source["configMapRef"]["name"]) in rendered_names,
              f"ConfigMap {source['configMapRef']['name']} exists")
secret = docs["Secret"]
secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
secret_mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]
                 if "secret" in volumes.get(m["name"], {})}

config = docs["ConfigMap"]["data"]
for key, value in config.items():
    if key.endswith("_FILE"):
        directory, _, file_name = value.rpartition("/")
        check(directory in secret_mounts and file_name in secret_keys,
              f"{key}={value} is a key of a mounted Secret")
grace = re.fullmatch(r"(\d+)s", config["ROSTER_SHUTDOWN_GRACE"])
check(grace and int(grace.group(1)) < pod["terminationGracePeriodSeconds"],
      "terminationGracePeriodSeconds exceeds the drain deadline")
helpfull = subprocess.run([binary, "--helpfull"], capture_output=True, text=True)
flags = set(re.findall(r"--([a-z_]+)", helpfull.stdout + helpfull.stderr))
for key in config:
    flag = key.removeprefix("ROSTER_").lower()
    check(key.startswith("ROSTER_") and flag in flags, f"{key} is a roster-server flag")

for item in container.get("env", []):
    check(item["name"].removeprefix("ROSTER_").lower() in flags,
          f"{item['name']} is a roster-server flag")



def check_ports(docs, container, labels, where):
    """Metrics and BackendUsers on their own ports, fenced by the NetworkPolicy (DESIGN §14)."""
    config = docs["ConfigMap"]["data"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for key, name in [("ROSTER_LISTEN", "grpc"), ("ROSTER_BACKEND_LISTEN", "backend"),
                      ("ROSTER_HTTP_LISTEN", "http"), ("ROSTER_METRICS_LISTEN", "metrics")]:
        port = config.get(key, ":").rpartition(":")[2]
        check(port.isdigit() and ports.get(name) == int(port),
              f"{where}: containerPort {name} is {key}'s port")
    check(config.get("ROSTER_METRICS", "false") != "true",
          f"{where}: no metrics on the public HTTP listener")
    service_ports = {p["targetPort"] for p in docs["Service"]["spec"]["ports"]}
    check("metrics" not in service_ports, f"{where}: the Service does not expose metrics")
    policy = docs.get("NetworkPolicy")
    if not check(policy is not None, f"{where}: a NetworkPolicy is rendered"):
        return
    selector = policy["spec"]["podSelector"].get("matchLabels", {})
    check(selector and all(labels.get(k) == v for k, v in selector.items()),
          f"{where}: the NetworkPolicy selects the pods")
    rules = {port["port"]: rule.get("from") for rule in policy["spec"]["ingress"]
             for port in rule["ports"]}
    check(set(rules) == set(ports), f"{where}: the NetworkPolicy names every port")
    check(rules.get("grpc") is None and rules.get("http") is None,
          f"{where}: FrontendUsers and images are open")
    for fenced in ("backend", "metrics"):
        check(bool(rules.get(fenced)), f"{where}: {fenced} admits only some peers")


check_ports(docs, container, labels, "base")

# The pod's memory against the server's own budgets (DESIGN §14): what the flags let it hold at
# worst must fit in the request (so the scheduler reserves it), with room to spare under the limit.
# The budgets come from the ConfigMap, else the flags' defaults in --helpfull.
FLAG_DEFAULTS = dict(re.findall(r"--([a-z_]+) \(.*?\);\s+default: ([^;]*);", helpfull.stdout +
                                helpfull.stderr, re.S))
# Measured idle RSS is 29 MiB (make test-abuse); the rest is gRPC's threads and arenas, the
# SQLite page caches and the HTTP listener's 16 workers x 80 KiB.
BASELINE_MIB = 64


def mebibytes(quantity):
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()
    return int(number) * (1024 if unit == "Gi" else 1)


def check_memory(config, container, sqlite, where):
    def setting(flag):
        return int(config.get(f"ROSTER_{flag.upper()}", FLAG_DEFAULTS[flag]).strip('"'))
    # One request quota per gRPC listener: two with BackendUsers on its own port.
    listeners = 2 if config.get("ROSTER_BACKEND_LISTEN", "").strip('"') else 1
    budget = (BASELINE_MIB + setting("hash_memory_mb") +
              listeners * setting("request_memory_mb"))
    if sqlite:
        budget += setting("user_cache_mb")
    request = mebibytes(container["resources"]["requests"]["memory"])
    limit = mebibytes(container["resources"]["limits"]["memory"])
    check(request >= budget, f"{where}: memory request {request} MiB holds the budgets' {budget}")
    check(limit >= budget * 3 // 2,
          f"{where}: memory limit {limit} MiB leaves half again over the budgets' {budget}")
    print(f"{where}: budgets {budget} MiB, request {request} MiB, limit {limit} MiB")


check_memory(config, container, True, "statefulset")

# The PostgreSQL overlay.
rendered = subprocess.run(["kubectl", "kustomize", f"{root}/deploy/k8s/overlays/postgres"],
                          check=True, capture_output=True, text=True).stdout
pg_docs = [d for d in yaml.safe_load_all(rendered) if d]
pg = {d["kind"]: d for d in pg_docs}
for kind in ["ConfigMap", "Service", "Deployment", "HorizontalPodAutoscaler",
             "PodDisruptionBudget"]:
    check(kind in pg, f"postgres overlay renders a {kind}")
check("StatefulSet" not in pg, "postgres overlay has no StatefulSet")
deployment = pg["Deployment"]
check(deployment["spec"]["replicas"] == 3, "postgres overlay starts 3 replicas")
pg_pod = deployment["spec"]["template"]["spec"]
pg_container = pg_pod["containers"][0]
check(pg_pod["securityContext"]["runAsNonRoot"] is True, "postgres overlay runAsNonRoot")
check(pg_container["securityContext"]["readOnlyRootFilesystem"] is True,
      "postgres overlay read-only root filesystem")
check(pg_container["readinessProbe"]["grpc"].get("service") == "roster.v1.BackendUsers",
      "postgres overlay readiness asks for roster.v1.BackendUsers")
check(not any(m["mountPath"] == "/var/lib/roster" for m in pg_container["volumeMounts"]),
      "postgres replicas keep no local data")
dsn = [e for e in pg_container.get("env", []) if e["name"] == "ROSTER_DB"]
check(len(dsn) == 1 and "secretKeyRef" in dsn[0].get("valueFrom", {}),
      "ROSTER_DB comes from a Secret")
if dsn and "secretKeyRef" in dsn[0].get("valueFrom", {}):
    ref = dsn[0]["valueFrom"]["secretKeyRef"]
    secrets = {d["metadata"]["name"]: d for d in pg_docs if d["kind"] == "Secret"}
    check(ref["name"] in secrets and ref["key"] in secrets[ref["name"]].get("stringData", {}),
          f"Secret {ref['name']} has key {ref['key']}")
    value = secrets.get(ref["name"], {}).get("stringData", {}).get(ref["key"], "")
    check(value.startswith("postgres://"), "the DSN is a postgres:// URI")
hpa = pg["HorizontalPodAutoscaler"]["spec"]
check(hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                "name": deployment["metadata"]["name"]},
      "the HPA scales the Deployment")
check(hpa["minReplicas"] >= 2 and hpa["maxReplicas"] >= hpa["minReplicas"], "HPA bounds")
pg_labels = deployment["spec"]["template"]["metadata"]["labels"]
check_ports(pg, pg_container, pg_labels, "postgres overlay")
check_memory(pg["ConfigMap"]["data"], pg_container, False, "postgres overlay")
for selector_of in [pg["Service"]["spec"]["selector"],
                    pg["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
                    deployment["spec"]["selector"]["matchLabels"]]:
    check(all(pg_labels.get(k) == v for k, v in selector_of.items()),
          f"postgres overlay selector {selector_of} matches")

# The runtime image: every linked library's package must be installed.
dockerfile = open(f"{root}/deploy/Dockerfile").read()
runtime_stage = dockerfile.split("FROM debian:bookworm-slim\n", 1)[1]
install = re.search(r"apt-get install -y --no-install-recommends(.*?)&&", runtime_stage, re.S)
listed = set(install.group(1).replace("\\", " ").split())
depends = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends",
                          "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                          "--no-enhances", *sorted(listed)],
                         capture_output=True, text=True).stdout
reachable = listed | {line.split(":", 1)[1].strip().strip("<>")
                      for line in depends.splitlines() if "Depends:" in line}
# Every package either stage lists must exist in Debian 12 (libsqlitecpp0, which does not, once
# broke the image build while this check only looked at what the binary links).
installed_by_dockerfile = sorted({
    package
    for names in re.findall(r"apt-get install -y --no-install-recommends(.*?)&&", dockerfile, re.S)
    for package in names.replace("\\", " ").split()})
policy = subprocess.run(["apt-cache", "policy", *installed_by_dockerfile], capture_output=True,
                        text=True).stdout
candidates = dict(re.findall(r"^(\S+):\n\s+Installed: .*\n\s+Candidate: (\S+)", policy, re.M))
for package in installed_by_dockerfile:
    check(candidates.get(package, "(none)") != "(none)",
          f"the Dockerfile's package {package} exists")
ldd = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
# One dpkg -S and one dpkg-query for all the libraries (a call per library took a minute): the
# loader may name a library by /lib or /usr/lib (merged /usr), and dpkg knows it by either.
aliases = {path: {path, path.replace("/usr/lib/", "/lib/"),
                  path.replace("/lib/", "/usr/lib/", 1)}
           for path in re.findall(r"=> (/\S+)", ldd)}
searched = subprocess.run(["dpkg", "-S", *sorted(set().union(*aliases.values()))],
                          capture_output=True, text=True).stdout
owner_of = {}
for line in searched.splitlines():
    packages, _, path = line.partition(": ")
    if path and not line.startswith("diversion "):
        owner_of[path] = packages.split(",")[0].split(":")[0].strip()
# A library no package owns (the loader, vdso) is left out.
owned = {path: next(owner_of[a] for a in sorted(names) if a in owner_of)
         for path, names in aliases.items() if names & owner_of.keys()}
priorities = dict(line.split(" ", 1) for line in subprocess.run(
    ["dpkg-query", "-W", "-f=${Package} ${Priority}\n", *sorted(set(owned.values()))],
    capture_output=True, text=True).stdout.splitlines() if " " in line)
check(len(owned) >= 10, f"dpkg names the packages of roster-server's libraries ({len(owned)})")
for path, owner in sorted(owned.items()):
    check(owner in reachable or priorities.get(owner) == "required",
          f"the runtime image installs {owner} (for {path})")

own_flags = set()
in_own_section = False
for line in (helpfull.stdout + helpfull.stderr).splitlines():
    if line.startswith("  Flags from "):
        in_own_section = "server/app/" in line
    elif in_own_section:
        own_flags.update(re.findall(r"^    --([a-z0-9_]+) \(", line))
check(len(own_flags) > 50, f"--helpfull lists roster-server's flags ({len(own_flags)} found)")
with open(f"{root}/docs/operations.md", encoding="utf-8") as operations:
    documented = set(re.findall(r"`--([a-z0-9_]+)`", operations.read()))
for flag in sorted(own_flags - documented):
    check(False, f"--{flag} is documented in docs/operations.md")

if failures:
    print("deploy check failed:\n  " + "\n  ".join(failures))
    sys.exit(1)
print(f"deploy check: {len(docs)} + {len(pg_docs)} manifests, the runtime image's "
      f"packages and the {len(own_flags)} flags' docs are consistent")
