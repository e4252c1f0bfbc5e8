#!/usr/bin/env python3
"""gen.py SEED OUTDIR [features] -> OUTDIR/policy.toml, OUTDIR/claims.jsonl
features: comma list to enable risky/ambiguous things: weirdprefix, emptydiag, rbcfallback,
capdefault (group caps smaller than default), ratioplusbands

Version 2 (DESIGN.md §2b): `gen.py SEED OUTDIR v2[,many]` -> OUTDIR/policies/*.toml
(one or several policy files: regions and periods) and OUTDIR/claims.jsonl, with
some bad claims; see gen_v2.py. The version-1 modes above are unchanged.
"""
import json
import os
import random
import sys
from decimal import Decimal as D

LEVELS = ["township", "county", "city", "province"]
CATS = ["tekun", "dibao", "poverty", "edge", "illness", "orphan"]
MTYPES = ["inpatient", "outpatient_chronic", "outpatient_special"]
GROUP_PREFIXES = {
    "major": ["C", "C34", "C50", "N18.5", "I21", "D61"],
    "chronic": ["E11", "I10", "J44", "F20"],
    "rare": ["E75", "G12", "D66", "Q21"],
}
KINDS = ["registration", "injection", "dressing", "ambulance", "drug", "bed", "lab", "surgery", "treatment"]
DIAGS = ["C34.9", "C50.1", "C16", "N18.5", "N18.4", "I21.0", "D61.9", "E11.9", "I10", "J44.1", "F20.0",
         "E75.2", "G12.2", "Q21.0", "J18.9", "K35.8", "Z00", "S72.0", "C", "N18", "i10", " c34.9 ", " e11.2",
         "n18.5 ", "  J44 ", "c50", "d66.1"]
PAYERS = ["insurance", "aid", "government", "charity"]
FUNDS = ["390100", "390200", "390300", "610100", "640100", "999997"]


def q(s):
    return json.dumps(s, ensure_ascii=False)


def rdec(rng, lo, hi, places):
    """random decimal in [lo,hi] with given places, as string"""
    scale = 10 ** places
    v = rng.randint(int(D(lo) * scale), int(D(hi) * scale))
    return str(D(v) / scale) if places == 0 else str((D(v) / scale).quantize(D(1) / scale))


def rratio(rng):
    c = rng.random()
    if c < 0.05:
        return "0"
    if c < 0.12:
        return "1"
    if c < 0.15:
        return "1.00"
    return rdec(rng, "0", "1", rng.choice([1, 2, 2, 2, 3, 4]))


def ramount(rng, hi):
    c = rng.random()
    if c < 0.08:
        return "0"
    if c < 0.5:
        return str(rng.randint(0, int(hi)))
    return rdec(rng, "0", str(hi), rng.choice([1, 2]))


def subset(rng, pool, lo=1, hi=None):
    hi = len(pool) if hi is None else min(hi, len(pool))
    lo = min(lo, hi)
    k = rng.randint(lo, hi)
    return sorted(rng.sample(pool, k), key=pool.index)


def inline(d):
    parts = []
    for k, v in d.items():
        parts.append("%s = %s" % (k, val(v)))
    return "{ " + ", ".join(parts) + " }"


def val(v):
    if isinstance(v, dict):
        return inline(v)
    if isinstance(v, list):
        return "[" + ", ".join(val(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return q(v)


def gen_policy(rng, feats):
    levels = subset(rng, LEVELS, 1)
    cats = subset(rng, CATS, 1)
    mtypes = subset(rng, MTYPES, 1)
    groups = {}
    for g in subset(rng, list(GROUP_PREFIXES), 0):
        pre = subset(rng, GROUP_PREFIXES[g], 1, 4)
        if "weirdprefix" in feats and rng.random() < 0.3:
            pre = [rng.choice([p.lower(), " " + p + " ", p]) for p in pre]
        groups[g] = pre
    out = []
    out.append('[policy]\nid = "gen-%d"\nname = "generated"\nregion = "000000"\n'
               'effective_from = "2023-01-01"\neffective_to = "2024-12-31"\n' % rng.randint(0, 10**9))
    out.append("[levels]\n" + "".join('%s = "L-%s"\n' % (l, l) for l in levels))
    out.append("[categories]\n" + "".join('%s = "C-%s"\n' % (c, c) for c in cats))
    out.append("[medical_types]\n" + "".join('%s = "M-%s"\n' % (m, m) for m in mtypes))
    for g, pre in groups.items():
        out.append("[diseases.%s]\nlabel = %s\nicd10 = %s\n" % (g, q("G-" + g), val(pre)))
    if rng.random() < 0.85:
        out.append("[catalogue]\nself_pay_first = { B = %s }\n" % q(rdec(rng, "0", "0.4", rng.choice([1, 2, 3]))))
    if rng.random() < 0.75:
        w = {
            "categories": subset(rng, cats, 0),
            "free_items": subset(rng, KINDS[:5], 0),
            "free_item_levels": subset(rng, levels, 0),
            "reduction_rate": rdec(rng, "0", "0.3", rng.choice([1, 2, 3])),
            "reduction_levels": subset(rng, levels, 0),
            "reduction_medical_types": subset(rng, mtypes, 0),
        }
        out.append("[waivers]\n" + "".join("%s = %s\n" % (k, val(v)) for k, v in w.items()))
    nl = rng.randint(1, 7)
    for i in range(nl):
        L = {"id": "L%d" % i, "name": "layer %d" % i, "payer": rng.choice(PAYERS)}
        if rng.random() < 0.4:
            L["fund_code"] = rng.choice(FUNDS)
        if rng.random() < 0.5:
            L["medical_types"] = subset(rng, mtypes, 1)
        scope_levels = levels
        if rng.random() < 0.3:
            L["levels"] = subset(rng, levels, 1)
            scope_levels = L["levels"]
        if groups and rng.random() < 0.25:
            L["diseases"] = subset(rng, list(groups), 1)
        target = rng.random() < 0.2
        if rng.random() < 0.2:
            L["base"] = "all"
        elif rng.random() < 0.1:
            L["base"] = "in_policy"

        def by_level(gen):
            t = {l: gen() for l in scope_levels}
            # sometimes name extra declared levels too
            for l in levels:
                if l not in t and rng.random() < 0.3:
                    t[l] = gen()
            return t

        if target:
            L["kind"] = "target"
            L["target_ratio"] = rratio(rng)
            if rng.random() < 0.8:
                L["reference"] = rng.choice(["in_policy", "total"])
            if rng.random() < 0.4:
                L["categories"] = subset(rng, cats, 1)
        else:
            if rng.random() < 0.15:
                L["kind"] = "ratio"
            mode = rng.choice(["scalar", "level", "rbc", "bands", "bands"])
            if mode == "scalar":
                L["ratio"] = rratio(rng)
            elif mode == "level":
                L["ratio"] = by_level(lambda: rratio(rng))
            elif mode == "rbc":
                keys = subset(rng, cats, 1)
                L["ratio_by_category"] = {c: rratio(rng) for c in keys}
                sub = rng.random()
                if sub < 0.3:
                    L["categories"] = subset(rng, keys, 1)
                elif sub < 0.55:
                    # explicit categories, with ratio as fallback
                    L["categories"] = subset(rng, cats, 1)
                    L["ratio"] = rratio(rng) if rng.random() < 0.5 else by_level(lambda: rratio(rng))
                elif sub < 0.65 and "rbcfallback" in feats:
                    L["categories"] = subset(rng, cats, 1)  # no ratio: ambiguous when none held
                elif sub < 0.8:
                    L["ratio"] = rratio(rng)  # no categories: scope is keys, ratio never used
            else:
                nb = rng.randint(2, 4)
                lims = sorted(rng.sample(range(1, 120), nb - 1))
                mult = rng.choice([100, 500, 1000])
                bands = []
                for k in range(nb):
                    b = {}
                    if k < nb - 1:
                        b["upto"] = str(lims[k] * mult) if rng.random() < 0.7 else str(lims[k] * mult) + ".50"
                    b["ratio"] = rratio(rng)
                    bands.append(b)
                L["bands"] = bands
                if "ratioplusbands" in feats and rng.random() < 0.3:
                    L["ratio"] = rratio(rng)
            if "categories" not in L and "ratio_by_category" not in L and rng.random() < 0.3:
                L["categories"] = subset(rng, cats, 1)
            if rng.random() < 0.3:
                L["ratio_bonus"] = {c: rdec(rng, "0", "0.3", 2) for c in subset(rng, cats, 1)}
            if rng.random() < 0.65:
                dd = {"per": rng.choice(["admission", "year"])}
                if rng.random() < 0.5:
                    dd["amount"] = ramount(rng, rng.choice([500, 5000, 20000]))
                else:
                    dd["amount"] = by_level(lambda: ramount(rng, rng.choice([500, 3000])))
                if rng.random() < 0.4:
                    wv = {}
                    r = rng.random()
                    if r < 0.7:
                        wv["categories"] = subset(rng, cats, 1)
                    if r > 0.4 or "categories" not in wv:
                        wv["levels"] = subset(rng, levels, 1)
                    dd["waive"] = wv
                if rng.random() < 0.3:
                    dd["factor"] = {c: rratio(rng) for c in subset(rng, cats, 1)}
                L["deductible"] = dd
        if rng.random() < 0.6:
            cap = {"per": rng.choice(["year", "year", "admission"])}
            if groups and rng.random() < 0.4:
                t = {"default": ramount(rng, rng.choice([500, 5000, 50000]))}
                for g in subset(rng, list(groups), 1):
                    if "capdefault" in feats:
                        t[g] = ramount(rng, rng.choice([500, 5000, 50000]))
                    else:
                        t[g] = str(D(t["default"]) + D(ramount(rng, 20000)))
                cap["amount"] = t
            else:
                cap["amount"] = ramount(rng, rng.choice([200, 2000, 20000, 300000]))
            if rng.random() < 0.3:
                cap["exempt"] = subset(rng, cats, 1)
            L["cap"] = cap
        # emit; deductible sometimes as sub-table
        s = "[[layers]]\n"
        sub_ded = "deductible" in L and rng.random() < 0.4
        for k, v in L.items():
            if k == "deductible" and sub_ded:
                continue
            s += "%s = %s\n" % (k, val(v))
        if sub_ded:
            s += "[layers.deductible]\n" + "".join("%s = %s\n" % (k, val(v)) for k, v in L["deductible"].items())
        out.append(s)
    meta = {"levels": levels, "cats": cats, "mtypes": mtypes, "groups": groups}
    return "\n".join(out), meta


def gen_item(rng, idx):
    c = rng.random()
    if c < 0.08:
        amt = rng.choice(["0", "0.00", "0.0"])
    elif c < 0.5:
        amt = rdec(rng, "0", "500", 2)
    elif c < 0.85:
        amt = rdec(rng, "0", "20000", rng.choice([0, 1, 2]))
    else:
        amt = rdec(rng, "0", "250000", 2)
    it = {"code": "I%05d" % idx, "name": "item", "kind": rng.choice(KINDS), "class": rng.choice("AABBC"),
          "amount": amt}
    if rng.random() < 0.3:
        a = D(amt)
        lim = rng.choice([a * D("0.8"), a * D("1.2"), a, D(0), a * D(rng.random()).quantize(D("0.01"))])
        it["limit_amount"] = str(lim.quantize(D("0.01")))
    return it


def gen_claims(rng, meta, feats, n_persons=None):
    n_persons = n_persons or rng.randint(1, 5)
    persons = []
    for p in range(n_persons):
        persons.append(("P%03d" % p, subset(rng, meta["cats"], 0, 3)))
    claims = []
    seq = 0
    for pid, pc in persons:
        for k in range(rng.randint(5, 20) if "many" in feats else rng.randint(1, 6)):
            seq += 1
            cats = pc if rng.random() < 0.85 else subset(rng, meta["cats"], 0, 3)
            year = rng.choice([2023, 2023, 2024])
            mo, day = rng.randint(1, 12), rng.randint(1, 28)
            nd = rng.randint(0, 3) if "emptydiag" in feats else rng.randint(1, 3)
            diags = [rng.choice(DIAGS) for _ in range(nd)]
            c = {"claim_id": "C%04d" % seq, "hospital": "H%03d" % rng.randint(1, 9),
                 "hospital_level": rng.choice(meta["levels"]), "person_id": pid, "categories": cats,
                 "medical_type": rng.choice(meta["mtypes"]),
                 "admitted_on": "%d-%02d-%02d" % (year, mo, day), "discharged_on": "%d-%02d-%02d" % (year, mo, day),
                 "diagnoses": diags,
                 "items": [gen_item(rng, i) for i in range(rng.randint(1, 30))]}
            claims.append(c)
    rng.shuffle(claims)
    return claims


def main():
    seed = int(sys.argv[1])
    outdir = sys.argv[2]
    feats = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else set()
    if "v2" in feats:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import gen_v2
        os.makedirs(outdir, exist_ok=True)
        gen_v2.main_v2(seed, outdir, feats)
        return
    rng = random.Random(seed)
    os.makedirs(outdir, exist_ok=True)
    pol, meta = gen_policy(rng, feats)
    with open(os.path.join(outdir, "policy.toml"), "w") as f:
        f.write(pol)
    with open(os.path.join(outdir, "claims.jsonl"), "w") as f:
        for c in gen_claims(rng, meta, feats):
            f.write(json.dumps(c, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
