#!/usr/bin/env python3
"""run_v2.py FIRST_SEED COUNT [features] -- generate version-2 cases and settle
them with the oracle alone (no medaid): checks that gen.py and oracle.py run
without exceptions and prints what the cases exercise (oracle.COV), how many
claims were refused and under which paths."""
import collections
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import oracle  # noqa: E402


def main():
    first, count = int(sys.argv[1]), int(sys.argv[2])
    feats = sys.argv[3] if len(sys.argv) > 3 else "v2"
    paths = collections.Counter()
    n = answers = files = 0
    with tempfile.TemporaryDirectory() as work:
        for seed in range(first, first + count):
            d = os.path.join(work, str(seed))
            subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), str(seed), d, feats], check=True)
            pols = oracle.load_policies([os.path.join(d, "policies")])
            files += len(pols)
            accs = {}
            for c in oracle.load_claims(os.path.join(d, "claims.jsonl")):
                n += 1
                a = oracle.answer_or_error(pols, c, accs)
                if "error" in a:
                    p = a["error"]["path"]
                    paths[p.split("[")[0] + ("[i]." + p.split(".", 1)[1] if p.startswith("items[") else "")
                          if not p.startswith("fund_payments.") else "fund_payments.CODE"] += 1
                else:
                    answers += 1
                    oracle.COV["answer_policy_" + ("several" if len(pols) > 1 else "single")] += 1
    print("seeds %d, policy files %d, claims %d, answered %d, refused %d" % (count, files, n, answers, n - answers))
    for k, v in sorted(paths.items()):
        print("  refused %-28s %d" % (k, v))
    for k, v in sorted(oracle.COV.items()):
        print("  %-36s %d" % (k, v))


if __name__ == "__main__":
    main()
