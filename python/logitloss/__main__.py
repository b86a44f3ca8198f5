"""``python -m logitloss``: build information, a self-check against float64
NumPy references and a short timing table. Exits 1 if the self-check fails."""

from __future__ import annotations

import sys

import logitloss as ll

from ._quickbench import table
from ._selfcheck import run_checks


def main() -> int:
    print("logitloss build:")
    for key, value in ll.build_info().items():
        print(f"  {key}: {value}")
    print("\nself-check (max relative error against float64 NumPy):")
    ok = True
    for name, err, passed in run_checks():
        ok &= passed
        print(f"  {name:<40} {err:9.2e}  {'ok' if passed else 'FAILED'}")
    print("\ntiming (median of 7 calls, this process):")
    print(table())
    print("\nself-check " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
