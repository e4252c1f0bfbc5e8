#!/usr/bin/env python3
"""compare.py POLICY CLAIMS -> prints diffs; exit 1 if any"""
import json, subprocess, sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle, tomllib
TOP = ["year","total","free_items","reduction","hospital_waived","over_limit","self_pay_first","fully_self_pay","in_policy","fund_paid","patient_payable","reimbursement_ratio"]
LF = ["applied","base","deductible","eligible","paid","cap_limited"]
def compare(pol_path, claims_path, extra_args=()):
    p = subprocess.run([os.environ.get("MEDAID_BIN", "medaid"),"settle","--policy",pol_path,*extra_args,claims_path],capture_output=True,text=True)
    if p.returncode != 0:
        return ["PRODUCT_ERROR rc=%d: %s" % (p.returncode, p.stderr.strip()[:500])], None
    prod = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    pol = oracle.Policy(tomllib.load(open(pol_path,"rb")))
    accs = {}
    claims = oracle.load_claims(claims_path)
    diffs = []
    if len(prod) != len(claims):
        diffs.append("count mismatch %d vs %d" % (len(prod), len(claims)))
    for i,(c,pr) in enumerate(zip(claims,prod)):
        if "error" in pr and "total" not in pr:
            diffs.append("claim %d product error: %s" % (i, json.dumps(pr,ensure_ascii=False)[:300]))
            # oracle still settles it -> accumulators diverge; stop
            break
        o = oracle.settle(pol, c, accs)
        for k in TOP:
            if str(o[k]) != str(pr.get(k)):
                diffs.append("claim %d %s: oracle=%s product=%s" % (i,k,o[k],pr.get(k)))
        for j,(ol,pl) in enumerate(zip(o["layers"], pr["layers"])):
            for k in LF:
                if ol[k] != pl.get(k):
                    diffs.append("claim %d layer %d(%s) %s: oracle=%s product=%s" % (i,j,ol["id"],k,ol[k],pl.get(k)))
            if ol["applied"] and ol["ratio"] is not None and pl.get("ratio") is not None:
                from decimal import Decimal
                if Decimal(ol["ratio"]) != Decimal(pl["ratio"]):
                    diffs.append("claim %d layer %d(%s) ratio(info): oracle=%s product=%s" % (i,j,ol["id"],ol["ratio"],pl.get("ratio")))
        if len(o["layers"]) != len(pr["layers"]):
            diffs.append("claim %d layer count" % i)
    return diffs, prod
if __name__ == "__main__":
    d,_ = compare(sys.argv[1], sys.argv[2])
    for x in d: print(x)
    sys.exit(1 if d else 0)
