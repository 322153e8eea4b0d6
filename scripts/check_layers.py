#!/usr/bin/env python3
"""Checks that every #include in Roster's sources runs down the layers, never up or sideways.

The target graph is the architecture (docs/architecture.md):

    proto <- storage (shared) <- storage/sqlite, storage/postgres <- server/domain
          <- server/api, server/delivery <- server/web <- server/app;  client -> proto only

Each layer lists the project folders and third-party headers it may include; anything else is a
violation, printed as `file:line: ...`, and the exit status is 1. So is an #include of a source
file (.cc, .cpp, ...) in any folder, tests included. Usage: check_layers.py [ROOT]
"""
import pathlib
import re
import sys

PROTO = ("roster/v1/", "google/rpc/", "grpc/health/")
# Third-party headers that belong to one layer only.
GRPC = ("grpcpp/", "grpc/", "google/protobuf/")
SQLITE = ("SQLiteCpp/", "sqlite3.h")
LIBPQ = ("libpq-fe.h", "postgresql/")
HTTP = ("httplib.h",)

# layer: (folders whose files belong to it, project prefixes it may include,
#         third-party prefixes it may not include)
LAYERS = {
    "storage": (("storage/",), ("storage/",), GRPC + SQLITE + LIBPQ + HTTP),
    "storage/sqlite": (("storage/sqlite/",), ("storage/", "storage/sqlite/"),
                       GRPC + LIBPQ + HTTP),
    "storage/postgres": (("storage/postgres/",), ("storage/", "storage/postgres/"),
                         GRPC + SQLITE + HTTP),
    "server/domain": (("server/domain/",), ("storage/", "server/domain/"),
                      GRPC + SQLITE + LIBPQ + HTTP),
    "server/net": (("server/net/",), ("server/net/",), GRPC + SQLITE + LIBPQ + HTTP),
    "server/delivery": (("server/delivery/",),
                        ("storage/", "server/domain/", "server/net/", "server/delivery/"),
                        GRPC + SQLITE + LIBPQ + HTTP),
    "server/oauth": (("server/oauth/",),
                     ("storage/", "server/domain/", "server/net/", "server/oauth/"),
                     GRPC + SQLITE + LIBPQ + HTTP),
    "server/api": (("server/api/",),
                   ("storage/", "server/domain/", "server/oauth/", "server/net/", "server/api/")
                   + PROTO,
                   SQLITE + LIBPQ + HTTP),
    "server/web": (("server/web/",), ("server/api/", "server/web/") + PROTO,
                   SQLITE + LIBPQ + HTTP),
    "server/app": (("server/app/",), ("storage/", "storage/sqlite/", "storage/postgres/",
                                      "server/") + PROTO, ()),
    "client": (("client/",), ("client/",) + PROTO, SQLITE + LIBPQ + HTTP),
}
PROJECT_ROOTS = ("storage/", "server/", "client/", "tests/") + PROTO
IMPLEMENTATION_SUFFIXES = (".c", ".cc", ".cpp", ".cxx")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(path):
    """The most specific layer whose folders hold `path`, or None (tests, tools, proto)."""
    best = None
    for name, (folders, _, _) in LAYERS.items():
        for folder in folders:
            if path.startswith(folder) and (best is None or len(folder) > len(best[1])):
                best = (name, folder)
    return best[0] if best else None


def allowed_project_include(include, allowed):
    # A bare "storage/x.h" is the shared layer; "storage/sqlite/x.h" is only under its own prefix.
    for prefix in sorted(allowed, key=len, reverse=True):
        if include.startswith(prefix):
            rest = include[len(prefix):]
            if prefix == "storage/" and "/" in rest:
                continue  # An adapter's folder: needs its own prefix.
            return True
    return False


def check(root):
    problems = []
    for file in sorted(root.rglob("*")):
        if file.suffix not in (".h", ".cc") or not file.is_file():
            continue
        relative = file.relative_to(root).as_posix()
        if relative.startswith(("build", ".git")):
            continue
        layer = layer_of(relative)
        _, allowed, forbidden = LAYERS[layer] if layer else (None, (), ())
        for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            include = match.group(2)
            where = f"{relative}:{number}"
            # clang-tidy's bugprone-suspicious-include, in every folder: `make lint` turns it off
            # because its unity units include sources by design.
            if include.endswith(IMPLEMENTATION_SUFFIXES):
                problems.append(f"{where}: includes a source file \"{include}\", not a header")
            elif layer is None:
                continue
            elif include.startswith(forbidden) and forbidden:
                problems.append(f"{where}: {layer} may not include <{include}>")
            elif include.startswith(PROJECT_ROOTS):
                if not allowed_project_include(include, allowed):
                    problems.append(
                        f"{where}: {layer} may not include \"{include}\" "
                        f"(a layer includes only those below it, never one beside it)")
    return problems


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    problems = check(root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_layers: {len(problems)} include(s) against the layering", file=sys.stderr)
        return 1
    print("check_layers: every include runs down the layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
