#!/usr/bin/env python3
"""compare.py POLICY_OR_DIR [POLICY_OR_DIR ...] CLAIMS.jsonl -> prints diffs; exit 1 if any

Runs the product and the oracle (oracle.py) on the same policies and claims and
compares them claim by claim.

The product is run as (MEDAID_BIN, default `medaid`):

    medaid settle --keep-going --policy A.toml --policy B.toml CLAIMS.jsonl

with one `--policy FILE` per policy file, in sorted order (a directory argument
given to compare.py is expanded here into its *.toml files, sorted by name).
Every claim's answer is expected on stdout, one JSON line per claim, in input
order. ASSUMED SHAPE OF A REFUSAL under --keep-going (the existing CLI shape, see
README.md "Settling offline" and tests/cli_settle.rs): the refused claim's line
is answered in place of the answer with

    {"line": 3, "claim_id": "...", "error": {"path": "items[1].amount", "message": "..."}}

i.e. any line that has an "error" key and no "total" key is a refusal;
`error.path` is compared with the path the oracle expects (for policy-choice
refusals the oracle also accepts the alternatives it lists, see oracle.py R2).
A refused claim changes no accumulator, on either side.

Compared for every answered claim: policy_id, year, total, free_items,
reduction, hospital_waived, over_limit, self_pay_first, fully_self_pay,
in_policy, fund_paid, patient_payable, reimbursement_ratio, the number of
layers, and per layer (in policy order) id, applied, base, deductible,
eligible, paid, cap_limited, and ratio where both sides report one (compared as
decimals). When one side refuses a claim that the other answers, the
accumulators diverge: the comparison stops there.
"""
import json
import os
import subprocess
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

TOP = ["policy_id", "year", "total", "free_items", "reduction", "hospital_waived", "over_limit",
       "self_pay_first", "fully_self_pay", "in_policy", "fund_paid", "patient_payable",
       "reimbursement_ratio"]
LF = ["id", "applied", "base", "deductible", "eligible", "paid", "cap_limited"]


def is_refusal(line):
    return isinstance(line, dict) and "error" in line and "total" not in line


def product_command(policy_files, claims_path, extra_args=()):
    cmd = [os.environ.get("MEDAID_BIN", "medaid"), "settle", "--keep-going"]
    for p in policy_files:
        cmd += ["--policy", p]
    return cmd + list(extra_args) + [claims_path]


def compare(policy_paths, claims_path, extra_args=()):
    if isinstance(policy_paths, str):
        policy_paths = [policy_paths]
    files = oracle.expand_policy_paths(policy_paths)
    cmd = product_command(files, claims_path, extra_args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return ["PRODUCT_ERROR rc=%d: %s\ncommand: %s" % (p.returncode, p.stderr.strip()[:500], " ".join(cmd))], None
    try:
        prod = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    except json.JSONDecodeError as e:
        return ["PRODUCT_OUTPUT not JSON lines: %s" % e], None
    pols = oracle.load_policies(files)
    accs = {}
    claims = oracle.load_claims(claims_path)
    diffs = []
    if len(prod) != len(claims):
        diffs.append("count mismatch: %d product lines vs %d claims" % (len(prod), len(claims)))
    for i, (c, pr) in enumerate(zip(claims, prod)):
        cid = c.get("claim_id")
        o = oracle.answer_or_error(pols, c, accs)
        if pr.get("claim_id") != cid:
            diffs.append("claim %d (%s): product answers claim_id %r" % (i, cid, pr.get("claim_id")))
        if is_refusal(o) and is_refusal(pr):
            ppath = (pr.get("error") or {}).get("path") if isinstance(pr.get("error"), dict) else None
            ok = [o["error"]["path"]] + o["error"]["alt_paths"]
            if ppath not in ok:
                diffs.append("claim %d (%s) refusal path: oracle=%s product=%s (%s)" % (
                    i, cid, " | ".join(ok), ppath, json.dumps(pr.get("error"), ensure_ascii=False)[:200]))
            continue
        if is_refusal(o):
            diffs.append("claim %d (%s): oracle refuses at %s (%s), product answers; stopping (accumulators diverge)"
                         % (i, cid, o["error"]["path"], o["error"]["message"]))
            break
        if is_refusal(pr):
            diffs.append("claim %d (%s): product refuses: %s; oracle answers; stopping (accumulators diverge)"
                         % (i, cid, json.dumps(pr, ensure_ascii=False)[:300]))
            break
        for k in TOP:
            if str(o[k]) != str(pr.get(k)):
                diffs.append("claim %d (%s) %s: oracle=%s product=%s" % (i, cid, k, o[k], pr.get(k)))
        pl_all = pr.get("layers") or []
        if len(o["layers"]) != len(pl_all):
            diffs.append("claim %d (%s) layer count: oracle=%d product=%d" % (i, cid, len(o["layers"]), len(pl_all)))
        for j, (ol, pl) in enumerate(zip(o["layers"], pl_all)):
            for k in LF:
                if ol[k] != pl.get(k):
                    diffs.append("claim %d (%s) layer %d(%s) %s: oracle=%s product=%s"
                                 % (i, cid, j, ol["id"], k, ol[k], pl.get(k)))
            if ol["applied"] and ol["ratio"] is not None and pl.get("ratio") is not None:
                if Decimal(str(ol["ratio"])) != Decimal(str(pl["ratio"])):
                    diffs.append("claim %d (%s) layer %d(%s) ratio: oracle=%s product=%s"
                                 % (i, cid, j, ol["id"], ol["ratio"], pl.get("ratio")))
    return diffs, prod


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    d, _ = compare(sys.argv[1:-1], sys.argv[-1])
    for x in d:
        print(x)
    sys.exit(1 if d else 0)
