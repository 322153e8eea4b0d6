#!/usr/bin/env python3
"""scripts/check_layers.py passes on the tree as it is, and fails on each kind of wrong include.

An included source counts as wrong in any folder: `make lint` leaves that to check_layers.py
(clang-tidy's bugprone-suspicious-include would flag every unity unit it runs over)."""
import pathlib
import subprocess
import sys
import tempfile
import unittest

SOURCE = pathlib.Path(sys.argv.pop(1) if len(sys.argv) > 1 else ".").resolve()
CHECKER = SOURCE / "scripts" / "check_layers.py"


def run(root):
    return subprocess.run([sys.executable, str(CHECKER), str(root)],
                          capture_output=True, text=True, check=False)


class CheckLayersTest(unittest.TestCase):
    def test_the_tree_as_it_is_passes(self):
        result = run(SOURCE)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_each_wrong_include_fails_by_file_and_line(self):
        wrong = {
            "storage/records.h": '#include "server/domain/errors.h"',  # upward
            "storage/sqlite/a.cc": '#include "storage/postgres/pg_rows.h"',  # sideways
            "storage/postgres/b.cc": "#include <SQLiteCpp/Database.h>",  # another adapter's library
            "storage/user_row.cc": '#include "storage/sqlite/sqlite_connection.h"',  # shared -> adapter
            "server/domain/c.cc": "#include <grpcpp/grpcpp.h>",  # transport in the domain
            "server/domain/d.cc": '#include "storage/sqlite/sqlite_user_store.h"',  # an adapter
            "server/api/e.cc": '#include "server/app/config.h"',  # upward
            "client/f.cc": '#include "server/api/auth.h"',  # the client sees only the stubs
            "server/api/j.cc": '#include "server/api/auth.cc"',  # a source, not a header
            "tests/k.cc": '#include "tests/testing/ports.cc"',  # in tests too
        }
        fine = {
            "server/app/g.cc": '#include "storage/postgres/pg_user_store.h"',  # wiring
            "server/api/h.cc": '#include "roster/v1/resources.pb.h"',
            "tests/i.cc": '#include "server/app/roster_server.h"',
        }
        with tempfile.TemporaryDirectory() as root:
            for path, line in {**wrong, **fine}.items():
                file = pathlib.Path(root, path)
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_text(f"// x\n{line}\n")
            result = run(root)
        self.assertEqual(result.returncode, 1)
        reported = {line.split(":")[0] for line in result.stdout.splitlines()}
        self.assertEqual(reported, set(wrong), result.stdout)
        for path in wrong:
            self.assertIn(f"{path}:2:", result.stdout)


if __name__ == "__main__":
    unittest.main()
