#!/usr/bin/env python3
"""Compiles each source of a unity build on its own, to find the ones that compile only beside
their unity neighbours.

A unity unit includes eight sources into one translation unit, so a using-declaration or an
#include in one of them also serves the others: a source can lean on a neighbour without anyone
noticing, until the batches shift. This script reads BUILD_DIR/compile_commands.json, takes each
unity unit's command, and runs it with -fsyntax-only on every source the unit includes (and on
each source compiled alone). It prints each source that fails with its first errors, and exits 1
if any does. 6 to 11 minutes on two cores for the whole tree, so it is not part of CI.

Usage: check_standalone.py BUILD_DIR [JOBS]
"""
import concurrent.futures
import json
import pathlib
import re
import shlex
import subprocess
import sys


def syntax_only(command):
    """`command` without its output and dependency-file options, checking syntax only."""
    args, skip = [], False
    for arg in shlex.split(command):
        if skip:
            skip = False
        elif arg in ('-o', '-c', '-MF', '-MT'):
            skip = True
        elif arg != '-MD':
            args.append(arg)
    return args + ['-fsyntax-only']


def main():
    build = pathlib.Path(sys.argv[1]).resolve()
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    checks = []
    for entry in json.loads((build / 'compile_commands.json').read_text()):
        unit = pathlib.Path(entry['file'])
        sources = (re.findall(r'#include "([^"]+\.cc)"', unit.read_text())
                   if '/Unity/' in unit.as_posix() else [unit.as_posix()])
        checks += [(source, syntax_only(entry['command']) + [source], entry['directory'])
                   for source in sources if not source.startswith(build.as_posix())]

    def run(check):
        source, args, directory = check
        result = subprocess.run(args, cwd=directory, capture_output=True, text=True)
        return source, result.returncode, result.stderr

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for source, code, errors in pool.map(run, checks):
            if code != 0:
                failed += 1
                print(f'{source} does not compile alone:')
                print('\n'.join(errors.splitlines()[:8]))
    print(f'{len(checks)} sources compiled alone, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
