#!/usr/bin/env python3
"""Independent oracle for medaid settlement arithmetic (DESIGN.md sections 1-5,
policy language version 1 and version 2 (§2b), the version-2 claim fields of §3
and the changed steps of §4). Written from DESIGN.md alone.

Usage: oracle.py POLICY_OR_DIR [POLICY_OR_DIR ...] CLAIMS.jsonl
  -> one JSON line per claim, in order: the answer (§5), or for a refused claim
     {"claim_id": ..., "error": {"path": ..., "message": ...}}
Options (environment) for ambiguous readings of version 1:
  ORACLE_CAP_DEFAULT=always|fallback   (default: fallback)

Readings of ambiguous points (v1)
---------------------------------
- A bands layer reports no ratio (null); compare.py checks ratios only where
  both sides report one.
- ratio_by_category layer with explicit `categories` and no `ratio`, the
  person holding none of its keys: ratio 0.

Readings of ambiguous points (v2)
---------------------------------
R1  Reported ratio of a layer (answer `ratio`): ratio layers without bands
    report the effective ratio clamp(ratio + bonus + adjust, 0, 1) that
    multiplied `eligible` (ratio_by_category's highest held, else `ratio`);
    bands layers report null; target layers report `target_ratio`; given
    layers report null; out-of-scope layers report null. compare.py compares
    a ratio only where both sides report a non-null one.
R2  Policy choice: the claim's region is `insured_region` when present
    (non-empty), else `hospital_region`. When insured_region is set but
    hospital_region is not, the insured_region alone decides; there is no
    fallback to hospital_region when no policy covers the insured_region (the
    claim is refused). Candidates are the policies in force on the discharge
    date (effective_from <= discharged_on <= effective_to, inclusive) whose
    region covers the code; the most specific (longest region after removing
    trailing "00" pairs) wins; two equally specific candidates are ambiguous.
    A claim with neither region: if exactly one policy is in force it is used
    (version-1 behaviour); with several in force it is refused as ambiguous,
    even when one of them has an empty/all-covering region (the literal
    sentence: "a claim with no region under several policies of different
    regions in force is rejected").
    Paths: no policy in force on the date -> `discharged_on`; policies in
    force but none covers the region -> the field that supplied the region
    (`insured_region` or `hospital_region`); ambiguous with no region ->
    `insured_region`. For these policy-choice refusals compare.py also accepts
    `discharged_on`, `insured_region` and `hospital_region` (alt_paths).
R3  Place of care: `county` when either region is missing (also when
    insured_region is set and hospital_region isn't), else county / city /
    province / national by equal 6 / first 4 / first 2 digits. `places`
    scope and `ratio_adjust` use that place; a missing region therefore
    counts as in-county care (no city/province/national adjustment).
R4  `referral`: absent means true; `referral = "required"` admits claims
    whose referral is true or absent; `ratio_adjust.unreferred` applies only
    when the claim says `"referral": false`.
R5  by_category: pool `by_category` -> the LARGEST amount among the
    person's listed categories replaces the pool amount; cap `by_category`
    -> the LARGEST, replacing the scalar or the disease-group entry;
    deductible `by_category` -> the SMALLEST, replacing `amount` (also a
    by-level amount), before `waive` and `factor`. A person holding none of
    the listed categories keeps the ordinary amount.
R6  exclusive: scope is evaluated with every scope key (medical_types,
    levels, diseases, categories or the ratio_by_category keys,
    insurance_types, places, referral); among layers with the same tag only
    the first in file order whose scope matches is in scope, whatever it
    pays (a matching first layer paying 0.00 still excludes the later ones).
    Applies to every kind of layer.
R7  insurance_type: a claim carrying one that the chosen policy does not
    declare (also when the policy has no [insurance_types] at all) is
    refused (`insurance_type`). A claim without one is out of scope of every
    layer that has `insurance_types`.
R8  Given layers: pay = fund_payments[fund_code] (0.00 when the key is
    absent); pay > base refuses the claim with path `fund_payments.CODE`;
    deductible/eligible 0.00; no cap and no pool; acc.paid += pay (the
    layer's accumulator is touched); pay comes off rem_in. A given layer's
    fund_code key present in fund_payments while that layer is out of scope
    (including by exclusive) is refused (`fund_payments.CODE`), whatever the
    value (also "0.00"). A fund_payments value that is not a decimal >= 0
    with at most 2 decimals is refused with the same path. `fund_payments:
    {}` is valid and means 0.00 for every given layer.
R9  Accumulators are keyed by layer id and pool id, not by policy:
    (person, year, layer_id), (person, year, pool_id), (person, year,
    layer_id, group). gen.py keeps layer and pool ids distinct across the
    policy files of one run so this reading never decides a test.
R10 cap.per_group: the group is the matching group with the largest entry
    (tie: declared first under [diseases]); `default` when the claim matches
    no group of the table. When cap.by_category replaces the amount, the
    group is still the one the table would have chosen (gen.py never
    combines by_category with per_group). acc_group.paid and pool.paid are
    increased by pay even when the person is exempt from the cap/pool (as
    acc.paid in version 1).
R11 cap_limited: true when the cap or the pool lowered pay; the
    `base = "gross"` clamp to rem_in does not set it. Order: cap, then pool,
    then the gross clamp.
R12 `ratio_adjust` keys that apply: `unreferred` when referral is false,
    plus the key equal to the place of care (`city`, `province`,
    `national`; in-county care has no key). The sum is added together with
    the bonus, then clamped to [0, 1], for the scalar ratio and for each
    band.
R13 item `self_pay_ratio` may be a JSON string or number; it is refused on
    class C (even on a free item) and outside [0, 1] (path
    `items[i].self_pay_ratio`). On a waived free item it has no effect.
R14 Order of refusals when several apply (gen.py makes bad claims with one
    error only): unknown fields (top level in claim order, then items in
    order) -> policy choice -> undeclared level, medical type, categories,
    item class, insurance_type -> self_pay_ratio -> fund_payments keys (in
    claim order) -> missing fund_payments -> given pay above base (during the
    arithmetic, first given layer in file order).
R15 A refused claim changes no accumulator: the arithmetic runs on staged
    copies committed only when the claim settles.
"""
import collections
import json
import os
import sys
import tomllib
from decimal import Decimal as D, getcontext, ROUND_HALF_UP, InvalidOperation

getcontext().prec = 60
COV = collections.Counter()
CENT = D("0.01")
ZERO = D("0")
ONE = D("1")

KNOWN_TOP = ["claim_id", "hospital", "hospital_level", "person_id", "categories", "medical_type",
             "admitted_on", "discharged_on", "diagnoses", "items", "insurance_type",
             "hospital_region", "insured_region", "referral", "fund_payments"]
KNOWN_ITEM = ["code", "name", "kind", "class", "amount", "limit_amount", "self_pay_ratio"]
PLACES = ["county", "city", "province", "national"]


def r2(x):
    return D(x).quantize(CENT, rounding=ROUND_HALF_UP)


def r4(x):
    return D(x).quantize(D("0.0001"), rounding=ROUND_HALF_UP)


def fmt(x):
    return str(r2(x))


def dec(v):
    if isinstance(v, bool):
        raise ValueError("bool is not a decimal")
    if isinstance(v, int):
        return D(v)
    if isinstance(v, float):
        return D(repr(v))
    return D(str(v).strip())


def clamp01(x):
    if x < ZERO:
        return ZERO
    if x >= ONE:
        return ONE
    return x


class Refusal(Exception):
    def __init__(self, path, message, alt_paths=()):
        super().__init__("%s: %s" % (path, message))
        self.path = path
        self.message = message
        self.alt_paths = list(alt_paths)


class Policy:
    def __init__(self, doc, path=None):
        self.doc = doc
        self.path = path
        p = doc.get("policy", {})
        self.id = p.get("id")
        self.region = str(p.get("region", "") or "")
        self.eff_from = str(p.get("effective_from", "0000-01-01"))
        self.eff_to = str(p.get("effective_to", "9999-12-31"))
        self.levels = set(doc.get("levels", {}))
        self.categories = set(doc.get("categories", {}))
        self.medical_types = set(doc.get("medical_types", {}))
        self.insurance_types = set(doc.get("insurance_types", {}))
        self.diseases = {}
        self.disease_order = []
        for gid, g in doc.get("diseases", {}).items():
            self.diseases[gid] = [p.strip().upper() for p in g.get("icd10", [])]
            self.disease_order.append(gid)
        cat = doc.get("catalogue", {})
        spf = cat.get("self_pay_first", {})
        self.spf_b = dec(spf["B"]) if "B" in spf else ZERO
        self.waivers = doc.get("waivers")
        self.pools = doc.get("pools", {})
        self.layers = doc.get("layers", [])

    def stripped_region(self):
        return strip_region(self.region)


def strip_region(r):
    r = (r or "").strip()
    while len(r) >= 2 and r.endswith("00"):
        r = r[:-2]
    return r


def load_policy(path):
    with open(path, "rb") as f:
        return Policy(tomllib.load(f), path)


def expand_policy_paths(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            out.extend(sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".toml")))
        else:
            out.append(p)
    return out


def load_policies(paths):
    return [load_policy(p) for p in expand_policy_paths(paths)]


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
    d0 = str(diags[0]).strip().upper()
    out = set()
    for gid, prefixes in policy.diseases.items():
        if any(d0.startswith(p) for p in prefixes):
            out.add(gid)
    return out


def place_of_care(claim):
    h = claim.get("hospital_region")
    i = claim.get("insured_region")
    if not h or not i:
        return "county"
    h, i = str(h), str(i)
    if h == i:
        return "county"
    if h[:4] == i[:4]:
        return "city"
    if h[:2] == i[:2]:
        return "province"
    return "national"


def referred(claim):
    return claim.get("referral", True) is not False


def in_scope(layer, claim, groups):
    cats = claim.get("categories") or []
    if "medical_types" in layer and claim.get("medical_type") not in layer["medical_types"]:
        return False
    if "levels" in layer and claim.get("hospital_level") not in layer["levels"]:
        return False
    if "diseases" in layer and not (set(layer["diseases"]) & groups):
        return False
    if "categories" in layer:
        if not held(cats, layer["categories"]):
            return False
    elif "ratio_by_category" in layer:
        if not held(cats, layer["ratio_by_category"].keys()):
            return False
    if "insurance_types" in layer:
        it = claim.get("insurance_type")
        if it is None or it not in layer["insurance_types"]:
            return False
    if "places" in layer and place_of_care(claim) not in layer["places"]:
        return False
    if layer.get("referral") == "required" and not referred(claim):
        return False
    return True


def scope_flags(policy, claim, groups):
    """in scope per layer, with exclusive tags applied (R6)"""
    seen = set()
    flags = []
    for L in policy.layers:
        s = in_scope(L, claim, groups)
        tag = L.get("exclusive")
        if s and tag is not None:
            if tag in seen:
                s = False
                COV["v2_exclusive_skipped"] += 1
            else:
                seen.add(tag)
        flags.append(s)
    return flags


# ---------------------------------------------------------------- validation

def choose_policy(policies, claim):
    d = str(claim.get("discharged_on", ""))
    inforce = [p for p in policies if p.eff_from <= d <= p.eff_to]
    alts = ["discharged_on", "insured_region", "hospital_region"]
    if not inforce:
        raise Refusal("discharged_on", "no policy in force on %s" % d, alts)
    if claim.get("insured_region"):
        field, code = "insured_region", str(claim["insured_region"])
    elif claim.get("hospital_region"):
        field, code = "hospital_region", str(claim["hospital_region"])
    else:
        field, code = None, None
    if code is None:
        if len(inforce) == 1:
            return inforce[0]
        COV["v2_refuse_ambiguous"] += 1
        raise Refusal("insured_region", "no region and %d policies in force on %s" % (len(inforce), d), alts)
    cov = [p for p in inforce if code.startswith(p.stripped_region())]
    if not cov:
        COV["v2_refuse_uncovered"] += 1
        raise Refusal(field, "no policy in force on %s covers region %s" % (d, code), alts)
    best = max(len(p.stripped_region()) for p in cov)
    top = [p for p in cov if len(p.stripped_region()) == best]
    if len(top) > 1:
        raise Refusal(field, "several policies cover region %s" % code, alts)
    if len(inforce) > 1:
        COV["v2_choice_among_several"] += 1
    return top[0]


def parse_money(v):
    """decimal >= 0 with at most 2 decimals, as a string or number; else None"""
    try:
        x = dec(v)
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not x.is_finite() or x < 0 or x != x.quantize(CENT):
        return None
    return x


def static_errors(policies, claim):
    """All refusals found before the arithmetic, in R14 order, and the policy
    (None when policy choice failed)."""
    errs = []

    def add(path, msg, alts=()):
        errs.append(Refusal(path, msg, alts))

    for k in claim:
        if k not in KNOWN_TOP:
            add(k, "unknown field")
    for i, it in enumerate(claim.get("items") or []):
        if isinstance(it, dict):
            for k in it:
                if k not in KNOWN_ITEM:
                    add("items[%d].%s" % (i, k), "unknown field")
    try:
        pol = choose_policy(policies, claim)
    except Refusal as e:
        errs.append(e)
        return errs, None
    if claim.get("hospital_level") not in pol.levels:
        add("hospital_level", "undeclared level")
    if claim.get("medical_type") not in pol.medical_types:
        add("medical_type", "undeclared medical type")
    for j, c in enumerate(claim.get("categories") or []):
        if c not in pol.categories:
            add("categories[%d]" % j, "undeclared category")
    for i, it in enumerate(claim.get("items") or []):
        if it.get("class") not in ("A", "B", "C"):
            add("items[%d].class" % i, "unknown class")
    if "insurance_type" in claim and claim["insurance_type"] is not None:
        if claim["insurance_type"] not in pol.insurance_types:
            add("insurance_type", "undeclared insurance type %r" % claim["insurance_type"])
    for i, it in enumerate(claim.get("items") or []):
        if "self_pay_ratio" in it:
            p = "items[%d].self_pay_ratio" % i
            if it.get("class") == "C":
                add(p, "self_pay_ratio on a class C item")
                continue
            try:
                s = dec(it["self_pay_ratio"])
                ok = s.is_finite() and ZERO <= s <= ONE
            except (InvalidOperation, ValueError, TypeError):
                ok = False
            if not ok:
                add(p, "self_pay_ratio outside [0, 1]")
    groups = matching_groups(pol, claim)
    flags = scope_flags(pol, claim, groups)
    given = [L for L, f in zip(pol.layers, flags) if f and L.get("kind") == "given"]
    codes = {L["fund_code"]: L for L in given}
    fp = claim.get("fund_payments")
    if fp is not None:
        if not isinstance(fp, dict):
            add("fund_payments", "not an object")
        else:
            for k, v in fp.items():
                if k not in codes:
                    add("fund_payments.%s" % k, "not the fund_code of a given layer in scope")
                elif parse_money(v) is None:
                    add("fund_payments.%s" % k, "not an amount")
    elif given:
        add("fund_payments", "required by layer `%s`" % given[0]["id"])
    return errs, pol


# ---------------------------------------------------------------- arithmetic

class Staged:
    """copy-on-write view of the accumulators (R15)"""

    def __init__(self, accs):
        self.accs = accs
        self.staged = {}

    def get(self, key):
        if key not in self.staged:
            src = self.accs.get(key)
            self.staged[key] = dict(src) if src is not None else {
                "deductible_used": ZERO, "eligible_cum": ZERO, "paid": ZERO}
        return self.staged[key]

    def commit(self):
        self.accs.update(self.staged)


def cap_amount_and_group(policy, cap, cats, groups, cap_default_always):
    amt = cap["amount"]
    group = None
    if isinstance(amt, dict):
        cands = [(dec(amt[g]), policy.disease_order.index(g), g) for g in groups if g in amt]
        if cands:
            cands.sort(key=lambda t: (-t[0], t[1]))
            c, _, group = cands[0]
            if cap_default_always and dec(amt["default"]) > c:
                c, group = dec(amt["default"]), "default"
        else:
            c, group = dec(amt["default"]), "default"
    else:
        c = dec(amt)
    bc = cap.get("by_category")
    if bc:
        vs = [dec(bc[k]) for k in cats if k in bc]
        if vs:
            c = max(vs)
            COV["v2_cap_by_category"] += 1
    return c, group


def compute(pol, claim, accs):
    """settle a statically valid claim under pol; raises Refusal for given pay
    above base; commits accumulators only on success"""
    cats = claim.get("categories") or []
    level = claim["hospital_level"]
    mtype = claim["medical_type"]
    year = int(str(claim["discharged_on"])[:4])
    person = claim["person_id"]
    w = pol.waivers or {}
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
        if cls in ("A", "B") and it.get("self_pay_ratio") is not None:
            s = r2(r * dec(it["self_pay_ratio"]))
            spf += s
            inpol += r - s
            COV["v2_self_pay_ratio_" + cls] += 1
        elif cls == "A":
            inpol += r
        elif cls == "B":
            s = r2(r * pol.spf_b)
            spf += s
            inpol += r - s
        else:
            fsp += r
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
    groups = matching_groups(pol, claim)
    flags = scope_flags(pol, claim, groups)
    cap_default_always = os.environ.get("ORACLE_CAP_DEFAULT", "fallback") == "always"
    place = place_of_care(claim)
    is_referred = referred(claim)
    fp = claim.get("fund_payments") or {}
    st = Staged(accs)

    layers_out = []
    fund = ZERO
    for L, inscope in zip(pol.layers, flags):
        lid = L["id"]
        res = {"id": lid, "payer": L.get("payer"), "applied": False, "base": "0.00",
               "deductible": "0.00", "eligible": "0.00", "ratio": None, "paid": "0.00",
               "cap_limited": False}
        if not inscope:
            layers_out.append(res)
            continue
        acc = st.get((person, year, "layer", lid))
        kind = L.get("kind", "ratio")
        b = L.get("base", "in_policy")
        if b == "all":
            base = rem_in + rem_out
        elif b == "gross":
            base = in_net
            COV["v2_gross"] += 1
        else:
            base = rem_in
        ded = elig = ZERO
        ratio_shown = None
        capped = False
        if kind == "given":
            code = L["fund_code"]
            pay = dec(fp[code]) if code in fp else ZERO
            if pay > base:
                raise Refusal("fund_payments.%s" % code,
                              "%s exceeds the amount that remains (%s)" % (fmt(pay), fmt(base)))
            COV["v2_given"] += 1
            if code not in fp:
                COV["v2_given_absent"] += 1
            if pay == base and pay > 0:
                COV["v2_given_equals_base"] += 1
        else:
            if kind == "ratio":
                adj = ZERO
                ra = L.get("ratio_adjust") or {}
                if not is_referred and "unreferred" in ra:
                    adj += dec(ra["unreferred"])
                    COV["v2_adjust_unreferred"] += 1
                if place in ra:
                    adj += dec(ra[place])
                    COV["v2_adjust_" + place] += 1
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
                    if not waived:
                        d = level_table(dd.get("amount", "0"), level)
                        bcat = dd.get("by_category")
                        if bcat:
                            ds = [dec(bcat[c]) for c in cats if c in bcat]
                            if ds:
                                d = min(ds)
                                COV["v2_ded_by_category"] += 1
                        fac = dd.get("factor")
                        if fac:
                            fs = [dec(fac[c]) for c in cats if c in fac]
                            if fs:
                                d = r2(d * min(fs))
                if per == "year":
                    ded = min(base, max(ZERO, d - acc["deductible_used"]))
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
                    for bd in L["bands"]:
                        hi = dec(bd["upto"]) if "upto" in bd else None
                        rt = clamp01(dec(bd["ratio"]) + bonus + adj)
                        a = max(s, lo)
                        z = e if hi is None else min(e, hi)
                        if z > a:
                            raw += rt * (z - a)
                        if hi is not None:
                            lo = hi
                    ratio_shown = None
                    acc["eligible_cum"] += elig
                else:
                    rt = None
                    rbc = L.get("ratio_by_category")
                    if rbc:
                        rs = [dec(rbc[c]) for c in cats if c in rbc]
                        if rs:
                            rt = max(rs)
                    if rt is None:
                        rt = level_table(L["ratio"], level) if "ratio" in L else ZERO
                    if rt + bonus + adj < ZERO:
                        COV["v2_ratio_clamped_0"] += 1
                    rt = clamp01(rt + bonus + adj)
                    ratio_shown = rt
                    raw = elig * rt
                    acc["eligible_cum"] += elig
                pay = r2(raw)
            else:  # target
                tr = dec(L["target_ratio"])
                ref = in_net + out_net if L.get("reference", "in_policy") == "total" else in_net
                allowed = r2((ONE - tr) * ref)
                pay = max(ZERO, base - allowed)
                ratio_shown = tr
            cap = L.get("cap")
            gacc = None
            if cap is not None:
                c, group = cap_amount_and_group(pol, cap, cats, groups, cap_default_always)
                if cap.get("per_group"):
                    gacc = st.get((person, year, "group", lid, group))
                if not held(cats, cap.get("exempt")):
                    if cap.get("per") == "admission":
                        np_ = min(pay, c)
                    elif gacc is not None:
                        np_ = min(pay, max(ZERO, c - gacc["paid"]))
                        if gacc["paid"] == 0 and acc["paid"] > 0:
                            COV["v2_per_group_second_group"] += 1
                    else:
                        np_ = min(pay, max(ZERO, c - acc["paid"]))
                    if np_ < pay:
                        capped = True
                        COV["capped"] += 1
                    pay = np_
            pid = L.get("pool")
            pacc = None
            if pid is not None:
                P = pol.pools[pid]
                pacc = st.get((person, year, "pool", pid))
                if not held(cats, P.get("exempt")):
                    pa = dec(P["amount"])
                    pbc = P.get("by_category")
                    if pbc:
                        vs = [dec(pbc[k]) for k in cats if k in pbc]
                        if vs:
                            pa = max(vs)
                            COV["v2_pool_by_category"] += 1
                    np_ = min(pay, max(ZERO, pa - pacc["paid"]))
                    if np_ < pay:
                        capped = True
                        COV["v2_pool_limited"] += 1
                        if pacc["paid"] > 0:
                            COV["v2_pool_limited_by_earlier"] += 1
                    pay = np_
                else:
                    COV["v2_pool_exempt"] += 1
            if b == "gross" and pay > rem_in:
                pay = rem_in
                COV["v2_gross_clamped"] += 1
            if gacc is not None:
                gacc["paid"] += pay
            if pacc is not None:
                pacc["paid"] += pay
        acc["paid"] += pay
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
    st.commit()
    return {
        "claim_id": claim.get("claim_id"), "person_id": person, "policy_id": pol.id, "year": year,
        "total": fmt(total), "free_items": fmt(free), "reduction": fmt(red_in + red_out),
        "hospital_waived": fmt(hw), "over_limit": fmt(over), "self_pay_first": fmt(spf),
        "fully_self_pay": fmt(fsp), "in_policy": fmt(inpol), "layers": layers_out,
        "fund_paid": fmt(fund), "patient_payable": fmt(pp), "reimbursement_ratio": str(rr.quantize(D("0.0001"))),
    }


def settle_claim(policies, claim, accs):
    """Answer dict, or raises Refusal (accumulators unchanged)."""
    if isinstance(policies, Policy):
        policies = [policies]
    errs, pol = static_errors(policies, claim)
    if errs:
        raise errs[0]
    return compute(pol, claim, accs)


def answer_or_error(policies, claim, accs):
    try:
        return settle_claim(policies, claim, accs)
    except Refusal as e:
        return {"claim_id": claim.get("claim_id"),
                "error": {"path": e.path, "message": e.message, "alt_paths": e.alt_paths}}


def settle(policy, claim, accs):
    """version-1 entry point kept for older callers"""
    return settle_claim([policy], claim, accs)


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
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    pols = load_policies(sys.argv[1:-1])
    accs = {}
    for c in load_claims(sys.argv[-1]):
        print(json.dumps(answer_or_error(pols, c, accs), ensure_ascii=False))


if __name__ == "__main__":
    main()
