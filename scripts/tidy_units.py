#!/usr/bin/env python3
"""Picks the translation units `make lint` hands to clang-tidy, and proves they cover every source.

clang-tidy runs over the unity units of a unity build (eight sources to a unit), not over each
source: most of its time goes to matching the gRPC, protobuf and Abseil headers every unit
includes, so eight sources in one unit cost little more than one. Findings in an included source
are reported like a header's, which is why .clang-tidy's HeaderFilterRegex names .cc files too.

This script reads BUILD_DIR/compile_commands.json and keeps each unit that compiles a source under
ROOT matching SCOPE (a regex on paths relative to ROOT). It fails unless every such source git
tracks is compiled by a kept unit, and unless .clang-tidy's HeaderFilterRegex matches each source
a unit includes. It prints one regex naming the kept units, for run-clang-tidy.

Usage: tidy_units.py ROOT BUILD_DIR SCOPE
"""
import json
import pathlib
import re
import subprocess
import sys


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    build = pathlib.Path(sys.argv[2]).resolve()
    scope = re.compile(sys.argv[3])
    in_scope = lambda path: path.is_relative_to(root) and not path.is_relative_to(build) \
        and scope.match(path.relative_to(root).as_posix())

    config = (root / ".clang-tidy").read_text()
    header_filter = re.compile(re.search(r"^HeaderFilterRegex:\s*'([^']*)'", config, re.M)[1])

    units, compiled, problems = [], set(), []
    for entry in json.loads((build / "compile_commands.json").read_text()):
        unit = pathlib.Path(entry["directory"], entry["file"]).resolve()
        if unit.is_relative_to(build) and "/Unity/" in unit.as_posix():
            sources = [pathlib.Path(s).resolve() for s in
                       re.findall(r'^#include "([^"]+)"', unit.read_text(), re.M)]
            for source in sources:
                if in_scope(source) and not header_filter.search(source.as_posix()):
                    problems.append(f"{source}: its findings in a unity unit would be dropped "
                                    f"(.clang-tidy's HeaderFilterRegex does not match it)")
        else:
            sources = [unit]
        sources = [s for s in sources if in_scope(s)]
        if sources:
            units.append(unit)
        compiled.update(sources)

    tracked = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--", "*.cc"],
                             check=True, capture_output=True, text=True).stdout.split("\0")
    on_disk = {(root / p).resolve() for p in tracked if p and in_scope(root / p)}
    for source in sorted(on_disk - compiled):
        problems.append(f"{source}: in no unit of {build}/compile_commands.json")
    if problems or not units:
        print("\n".join(problems) or f"no unit in {build} compiles a source in scope",
              file=sys.stderr)
        return 1
    print(f"tidy_units: {len(units)} units cover all {len(on_disk)} sources", file=sys.stderr)
    print("^(" + "|".join(re.escape(u.as_posix()) for u in sorted(units)) + ")$")
    return 0


if __name__ == "__main__":
    sys.exit(main())
