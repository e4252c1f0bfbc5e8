#!/usr/bin/env python3
"""Independent oracle for medaid settlement arithmetic (DESIGN.md sections 1-5).

Usage: oracle.py POLICY.toml CLAIMS.jsonl   -> one JSON answer per line.
Options (environment) for ambiguous readings:
  ORACLE_CAP_DEFAULT=always|fallback   (default: fallback)
"""
import json
import os
import sys
import tomllib
from decimal import Decimal as D, getcontext, ROUND_HALF_UP

getcontext().prec = 60
import collections
COV = collections.Counter()
CENT = D("0.01")
ZERO = D("0")
ONE = D("1")


def r2(x):
    return D(x).quantize(CENT, rounding=ROUND_HALF_UP)


def r4(x):
    return D(x).quantize(D("0.0001"), rounding=ROUND_HALF_UP)


def fmt(x):
    return str(r2(x))


def dec(v):
    if isinstance(v, (int,)):
        return D(v)
    if isinstance(v, float):
        raise ValueError("float in policy")
    return D(str(v))


class Policy:
    def __init__(self, doc):
        self.doc = doc
        self.levels = set(doc.get("levels", {}))
        self.categories = set(doc.get("categories", {}))
        self.medical_types = set(doc.get("medical_types", {}))
        self.diseases = {}
        for gid, g in doc.get("diseases", {}).items():
            self.diseases[gid] = [p.strip().upper() for p in g.get("icd10", [])]
        cat = doc.get("catalogue", {})
        spf = cat.get("self_pay_first", {})
        self.spf_b = dec(spf["B"]) if "B" in spf else ZERO
        w = doc.get("waivers")
        self.waivers = w
        self.layers = doc.get("layers", [])


def held(person_cats, lst):
    return bool(set(person_cats) & set(lst or []))


def level_table(v, level):
    """decimal or table by level"""
    if isinstance(v, dict):
        return dec(v[level])
    return dec(v)


def matching_groups(policy, claim):
    diags = claim.get("diagnoses") or []
    if not diags:
        return set()
    d0 = diags[0].strip().upper()
    out = set()
    for gid, prefixes in policy.diseases.items():
        if any(d0.startswith(p) for p in prefixes):
            out.add(gid)
    return out


def in_scope(layer, claim, groups):
    cats = claim.get("categories") or []
    if "medical_types" in layer and claim["medical_type"] not in layer["medical_types"]:
        return False
    if "levels" in layer and claim["hospital_level"] not in layer["levels"]:
        return False
    if "diseases" in layer and not (set(layer["diseases"]) & groups):
        return False
    if "categories" in layer:
        if not held(cats, layer["categories"]):
            return False
    elif "ratio_by_category" in layer:
        if not held(cats, layer["ratio_by_category"].keys()):
            return False
    return True


def settle(policy, claim, accs):
    cats = claim.get("categories") or []
    level = claim["hospital_level"]
    mtype = claim["medical_type"]
    year = int(claim["discharged_on"][:4])
    w = policy.waivers or {}
    holds_waiver = held(cats, w.get("categories"))

    total = free = over = spf = fsp = inpol = ZERO
    for it in claim["items"]:
        amt = dec(it["amount"])
        total += amt
        if holds_waiver and level in (w.get("free_item_levels") or []) and it.get("kind") in (w.get("free_items") or []):
            free += amt
            COV["free_item"] += 1
            continue
        lim = it.get("limit_amount")
        ol = max(ZERO, amt - dec(lim)) if lim is not None else ZERO
        r = amt - ol
        over += ol
        cls = it["class"]
        if cls == "A":
            inpol += r
        elif cls == "B":
            s = r2(r * policy.spf_b)
            spf += s
            inpol += r - s
        elif cls == "C":
            fsp += r
        else:
            raise ValueError("bad class %r" % cls)
    out_pol = over + spf + fsp
    red_in = red_out = ZERO
    if holds_waiver and level in (w.get("reduction_levels") or []) and mtype in (w.get("reduction_medical_types") or []) and "reduction_rate" in w:
        rate = dec(w["reduction_rate"])
        red_in = r2(rate * inpol)
        red_out = r2(rate * out_pol)
        COV["reduction"] += 1
    hw = free + red_in + red_out
    in_net = inpol - red_in
    out_net = out_pol - red_out
    rem_in, rem_out = in_net, out_net
    groups = matching_groups(policy, claim)
    cap_default_always = os.environ.get("ORACLE_CAP_DEFAULT", "fallback") == "always"

    layers_out = []
    fund = ZERO
    for L in policy.layers:
        lid = L["id"]
        res = {"id": lid, "payer": L.get("payer"), "applied": False, "base": "0.00",
               "deductible": "0.00", "eligible": "0.00", "ratio": None, "paid": "0.00",
               "cap_limited": False}
        if not in_scope(L, claim, groups):
            layers_out.append(res)
            continue
        acc = accs.setdefault((claim["person_id"], year, lid),
                              {"deductible_used": ZERO, "eligible_cum": ZERO, "paid": ZERO})
        base = rem_in + rem_out if L.get("base", "in_policy") == "all" else rem_in
        kind = L.get("kind", "ratio")
        ded = elig = ZERO
        ratio_shown = None
        if kind == "ratio":
            dd = L.get("deductible")
            d = ZERO
            per = None
            if dd is not None:
                per = dd.get("per")
                waived = False
                wv = dd.get("waive")
                if wv is not None:
                    wc = wv.get("categories")
                    wl = wv.get("levels")
                    cat_ok = True if wc is None else held(cats, wc)
                    lvl_ok = True if wl is None else (level in wl)
                    waived = cat_ok and lvl_ok
                    if waived: COV["ded_waived"] += 1
                if not waived:
                    d = level_table(dd.get("amount", "0"), level)
                    fac = dd.get("factor")
                    if fac:
                        fs = [dec(fac[c]) for c in cats if c in fac]
                        if fs:
                            d = r2(d * min(fs)); COV["factor"] += 1
                            if len(fs) > 1 and len(set(fs)) > 1: COV["factor_multi"] += 1
            if per == "year":
                ded = min(base, max(ZERO, d - acc["deductible_used"]))
                if acc["deductible_used"] > 0 and ded > 0: COV["ded_year_partial_prior"] += 1
                if 0 < ded < base: COV["ded_year_exhausted_in_claim"] += 1
                acc["deductible_used"] += ded
            else:
                ded = min(base, d)
            elig = base - ded
            bonus = ZERO
            rb = L.get("ratio_bonus")
            if rb:
                bs = [dec(rb[c]) for c in cats if c in rb]
                if bs:
                    bonus = max(bs)
            if "bands" in L:
                lo = ZERO
                raw = ZERO
                s, e = acc["eligible_cum"], acc["eligible_cum"] + elig
                first = None
                for b in L["bands"]:
                    hi = dec(b["upto"]) if "upto" in b else None
                    rt = min(ONE, dec(b["ratio"]) + bonus)
                    if first is None:
                        first = rt
                    a = max(s, lo)
                    z = e if hi is None else min(e, hi)
                    if z > a:
                        raw += rt * (z - a)
                        nb_touched = locals().get("nb_touched", 0) + 1
                    if hi is not None:
                        lo = hi
                ratio_shown = None  # unspecified for bands
                COV["bands_claim"] += 1
                if bonus > 0: COV["bands_bonus"] += 1
                acc["eligible_cum"] += elig
            else:
                rt = None
                rbc = L.get("ratio_by_category")
                if rbc:
                    rs = [dec(rbc[c]) for c in cats if c in rbc]
                    if rs:
                        rt = max(rs); COV["rbc"] += 1
                    if len(rs) > 1 and len(set(rs))>1: COV["rbc_multi"] += 1
                if rt is None:
                    rt = level_table(L["ratio"], level) if "ratio" in L else ZERO
                if bonus > 0: COV["bonus"] += 1
                if rt + bonus > ONE: COV["bonus_capped_at_1"] += 1
                rt = min(ONE, rt + bonus)
                ratio_shown = rt
                raw = elig * rt
                acc["eligible_cum"] += elig
            pay = r2(raw)
        else:
            tr = dec(L["target_ratio"])
            ref = in_net + out_net if L.get("reference", "in_policy") == "total" else in_net
            allowed = r2((ONE - tr) * ref)
            pay = max(ZERO, base - allowed)
            ratio_shown = tr
        capped = False
        cap = L.get("cap")
        if cap is not None and not held(cats, cap.get("exempt")):
            amt = cap["amount"]
            if isinstance(amt, dict):
                cands = [dec(amt[g]) for g in groups if g in amt]
                if cap_default_always or not cands:
                    cands.append(dec(amt["default"]))
                c = max(cands)
            else:
                c = dec(amt)
            if cap.get("per") == "admission":
                np_ = min(pay, c)
            else:
                np_ = min(pay, max(ZERO, c - acc["paid"]))
            if np_ < pay:
                capped = True
                COV["capped_" + cap.get("per", "?") + ("_table" if isinstance(amt, dict) else "")] += 1
                if kind == "target": COV["capped_target"] += 1
            pay = np_
        acc["paid"] += pay
        if cap is not None and held(cats, cap.get("exempt")): COV["cap_exempt"] += 1
        if pay > rem_in: COV["paid_from_rem_out"] += 1
        if kind == "target" and pay > 0: COV["target_pays_" + L.get("reference", "in_policy")] += 1
        if kind == "target" and pay == 0: COV["target_zero"] += 1
        take = min(pay, rem_in)
        rem_in -= take
        rem_out -= (pay - take)
        fund += pay
        res.update({"applied": True, "base": fmt(base), "deductible": fmt(ded), "eligible": fmt(elig),
                    "ratio": None if ratio_shown is None else str(ratio_shown), "paid": fmt(pay),
                    "cap_limited": capped})
        layers_out.append(res)
    pp = total - hw - fund
    rr = ZERO if total == 0 else r4((total - pp) / total)
    return {
        "claim_id": claim.get("claim_id"), "person_id": claim["person_id"], "year": year,
        "total": fmt(total), "free_items": fmt(free), "reduction": fmt(red_in + red_out),
        "hospital_waived": fmt(hw), "over_limit": fmt(over), "self_pay_first": fmt(spf),
        "fully_self_pay": fmt(fsp), "in_policy": fmt(inpol), "layers": layers_out,
        "fund_paid": fmt(fund), "patient_payable": fmt(pp), "reimbursement_ratio": str(rr.quantize(D("0.0001"))),
    }


def load_claims(path):
    txt = open(path, encoding="utf-8").read()
    s = txt.strip()
    try:
        obj = json.loads(s)
        if isinstance(obj, dict):
            return [obj]
    except json.JSONDecodeError:
        pass
    return [json.loads(l) for l in txt.splitlines() if l.strip()]


def main():
    pol = Policy(tomllib.load(open(sys.argv[1], "rb")))
    accs = {}
    for c in load_claims(sys.argv[2]):
        print(json.dumps(settle(pol, c, accs), ensure_ascii=False))


if __name__ == "__main__":
    main()
