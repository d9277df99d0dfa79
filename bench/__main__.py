"""python -m bench [NAME ...]: run the named benchmarks (default: all but the opt-in ones) and print their figures."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["scan_bench", "pretoken_bench", "verify_bench", "plan_bench",
              "large_api", "authorizer_bench", "shadow_bench"]
OPT_IN = ["scan_large_bench"]  # minutes each: run only when named


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    for name in names:
        if name not in BENCHMARKS + OPT_IN:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS + OPT_IN)}", file=sys.stderr)
            return 1
    for name in names:
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
