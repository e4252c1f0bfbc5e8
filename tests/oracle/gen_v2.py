"""Version-2 generator, used by `gen.py SEED OUTDIR v2[,many]`.

Writes OUTDIR/policies/NN-ID.toml (one or several policy files: different
regions and/or periods) and OUTDIR/claims.jsonl. Policies are valid under
DESIGN.md §2 and §2b; claims exercise every version-2 key and claim field,
and about one claim in eight is a bad claim with exactly one error (unknown
field, undeclared insurance type, self_pay_ratio on class C or outside [0, 1],
a fund_payments key that is no given layer in scope, missing fund_payments,
given pay above base, no policy in force, region no policy covers, no region
under several policies). fund_payments are chosen with the oracle itself
(dry runs on the accumulators at that point of the file) so that valid claims
pay at most each given layer's base.

Choices that keep the test off readings the design leaves open (see
oracle.py, "Readings of ambiguous points (v2)"):
- layer and pool ids are distinct across the policy files of one run (R9);
- no two policies of the same region overlap in time;
- given layers carry no `exclusive` tag; cap.by_category is never combined
  with cap.per_group (R10).
"""
import copy
import json
import os
import random
from decimal import Decimal as D

import gen as G
import oracle

REGIONS = {
    "41": {"4113": ["411302", "411303", "411321", "411323"], "4101": ["410102", "410105"]},
    "42": {"4201": ["420101", "420102"]},
}
CODES = [c for p in REGIONS.values() for city in p.values() for c in city]
POLICY_REGIONS = ["411303", "411300", "410000", "000000", "420000", "411321", "410100"]
INS = {"390": "城乡居民基本医疗保险", "310": "职工基本医疗保险"}
GIVEN_CODES = {"390100": "390", "390200": "390", "390300": "390", "310100": "310", "320100": "310"}
OTHER_CODES = ["610100", "640100", "999997"]
PLACES = ["county", "city", "province", "national"]
ADJ_KEYS = ["unreferred", "city", "province", "national"]


def rsigned(rng):
    c = rng.random()
    if c < 0.1:
        return rng.choice(["-1", "1", "0", "-1.00"])
    return G.rdec(rng, "-0.5", "0.3", rng.choice([1, 2, 2]))


def by_cat(rng, cats, gen, lo=1, hi=3):
    return {c: gen() for c in G.subset(rng, cats, lo, hi)}


# ------------------------------------------------------------------ policies

def policy_layout(rng):
    r = rng.random()
    if r < 0.35:
        return [(rng.choice(["411303", "411300", "410000", "000000"]), "2023-01-01", "2024-12-31")]
    if r < 0.65:
        regs = []
        pool = POLICY_REGIONS[:]
        rng.shuffle(pool)
        for reg in pool:
            if len(regs) >= rng.choice([2, 3]):
                break
            if all(oracle.strip_region(reg) != oracle.strip_region(x) for x in regs):
                regs.append(reg)
        return [(reg, "2023-01-01", "2024-12-31") for reg in regs]
    if r < 0.85:
        reg = rng.choice(["411303", "411300", "410000", "000000"])
        second = rng.choice(["2024-01-01", "2024-01-01", "2024-03-01"])
        return [(reg, "2023-01-01", "2023-12-31"), (reg, second, "2024-12-31")]
    a, b = rng.sample(["411303", "411300", "410000", "000000", "420000"], 2)
    return [(a, "2023-01-01", "2024-12-31"), (b, "2024-01-01", "2024-12-31")]


def gen_meta(rng):
    groups = {}
    for g in G.subset(rng, list(G.GROUP_PREFIXES), 0 if rng.random() < 0.2 else 1):
        groups[g] = G.subset(rng, G.GROUP_PREFIXES[g], 1, 4)
    return {
        "levels": G.subset(rng, G.LEVELS, 1),
        "cats": G.subset(rng, G.CATS, 2),
        "mtypes": G.subset(rng, G.MTYPES, 1),
        "groups": groups,
        "ins": rng.random() < 0.85,
    }


def ratio_part(rng, L, meta, scope_levels, allow_bands=True):
    """ratio / ratio_by_category / bands, version-1 style"""
    levels, cats = meta["levels"], meta["cats"]

    def by_level(gen):
        t = {l: gen() for l in scope_levels}
        for l in levels:
            if l not in t and rng.random() < 0.3:
                t[l] = gen()
        return t

    mode = rng.choice(["scalar", "level", "rbc", "bands"] if allow_bands else ["scalar", "level", "rbc"])
    if mode == "scalar":
        L["ratio"] = G.rratio(rng)
    elif mode == "level":
        L["ratio"] = by_level(lambda: G.rratio(rng))
    elif mode == "rbc":
        keys = G.subset(rng, cats, 1)
        L["ratio_by_category"] = {c: G.rratio(rng) for c in keys}
        sub = rng.random()
        if sub < 0.3:
            L["categories"] = G.subset(rng, keys, 1)
        elif sub < 0.55:
            L["categories"] = G.subset(rng, cats, 1)
            L["ratio"] = G.rratio(rng) if rng.random() < 0.5 else by_level(lambda: G.rratio(rng))
    else:
        nb = rng.randint(2, 4)
        lims = sorted(rng.sample(range(1, 120), nb - 1))
        mult = rng.choice([100, 500, 1000])
        bands = []
        for k in range(nb):
            b = {}
            if k < nb - 1:
                b["upto"] = str(lims[k] * mult)
            b["ratio"] = G.rratio(rng)
            bands.append(b)
        L["bands"] = bands
    return by_level


def deductible(rng, meta, by_level):
    cats, levels = meta["cats"], meta["levels"]
    dd = {"per": rng.choice(["admission", "year", "year"])}
    if rng.random() < 0.5:
        dd["amount"] = G.ramount(rng, rng.choice([500, 3000, 10000]))
    else:
        dd["amount"] = by_level(lambda: G.ramount(rng, rng.choice([500, 3000])))
    if rng.random() < 0.45:
        dd["by_category"] = by_cat(rng, cats, lambda: G.ramount(rng, rng.choice([1500, 3000, 8000])))
    if rng.random() < 0.3:
        wv = {}
        r = rng.random()
        if r < 0.7:
            wv["categories"] = G.subset(rng, cats, 1)
        if r > 0.4 or "categories" not in wv:
            wv["levels"] = G.subset(rng, levels, 1)
        dd["waive"] = wv
    if rng.random() < 0.2:
        dd["factor"] = {c: G.rratio(rng) for c in G.subset(rng, cats, 1)}
    return dd


def cap_for(rng, meta, kind):
    groups, cats = meta["groups"], meta["cats"]
    cap = {"per": rng.choice(["year", "year", "admission"])}
    if groups and rng.random() < 0.45:
        t = {"default": G.ramount(rng, rng.choice([500, 3000, 20000]))}
        for g in G.subset(rng, list(groups), 1):
            t[g] = G.ramount(rng, rng.choice([500, 3000, 20000]))
        cap["amount"] = t
        if cap["per"] == "year" and rng.random() < 0.6:
            cap["per_group"] = True
    else:
        cap["amount"] = G.ramount(rng, rng.choice([300, 2000, 20000, 150000]))
    if not cap.get("per_group") and rng.random() < 0.3:
        cap["by_category"] = by_cat(rng, cats, lambda: G.ramount(rng, rng.choice([1000, 5000, 30000])))
    if rng.random() < 0.2:
        cap["exempt"] = G.subset(rng, cats, 1, 2)
    return cap


def scope_v2(rng, L, meta, p_ins=0.2, p_places=0.15, p_ref=0.12):
    if meta["ins"] and rng.random() < p_ins:
        L["insurance_types"] = G.subset(rng, list(INS), 1)
    if rng.random() < p_places:
        L["places"] = G.subset(rng, PLACES, 1)
    if rng.random() < p_ref:
        L["referral"] = "required"


def ratio_or_target_layer(rng, lid, meta, pools, exclusive=None, aid=False):
    levels, cats, mtypes, groups = meta["levels"], meta["cats"], meta["mtypes"], meta["groups"]
    L = {"id": lid, "name": "layer " + lid,
         "payer": "aid" if aid else rng.choice(G.PAYERS)}
    if rng.random() < 0.4:
        L["fund_code"] = rng.choice(G.FUNDS)
    if exclusive:
        L["exclusive"] = exclusive
    if rng.random() < 0.4:
        L["medical_types"] = G.subset(rng, mtypes, 1)
    scope_levels = levels
    if rng.random() < 0.2:
        L["levels"] = G.subset(rng, levels, 1)
        scope_levels = L["levels"]
    if groups and rng.random() < 0.2:
        L["diseases"] = G.subset(rng, list(groups), 1)
    scope_v2(rng, L, meta)
    r = rng.random()
    if r < 0.12:
        L["base"] = "gross"
    elif r < 0.25:
        L["base"] = "all"
    target = (not aid) and rng.random() < 0.15
    if target:
        L["kind"] = "target"
        L["target_ratio"] = G.rratio(rng)
        if rng.random() < 0.8:
            L["reference"] = rng.choice(["in_policy", "total"])
        if rng.random() < 0.4:
            L["categories"] = G.subset(rng, cats, 1)
    else:
        if aid:
            keys = G.subset(rng, cats, 1, 3)
            L["ratio_by_category"] = {c: G.rratio(rng) for c in keys}
            if rng.random() < 0.3:
                L["categories"] = G.subset(rng, keys, 1)

            def by_level(gen):
                return {l: gen() for l in scope_levels}
        else:
            by_level = ratio_part(rng, L, meta, scope_levels)
        if "categories" not in L and "ratio_by_category" not in L and rng.random() < 0.25:
            L["categories"] = G.subset(rng, cats, 1)
        if rng.random() < 0.25:
            L["ratio_bonus"] = {c: G.rdec(rng, "0", "0.3", 2) for c in G.subset(rng, cats, 1)}
        if rng.random() < 0.35:
            L["ratio_adjust"] = {k: rsigned(rng) for k in G.subset(rng, ADJ_KEYS, 1)}
        if rng.random() < 0.65:
            L["deductible"] = deductible(rng, meta, by_level)
    if rng.random() < 0.55:
        L["cap"] = cap_for(rng, meta, L.get("kind"))
    if pools and rng.random() < (0.8 if aid else 0.3):
        L["pool"] = rng.choice(pools)
    return L


def given_layer(rng, lid, code, meta):
    L = {"id": lid, "name": "platform " + code, "payer": "insurance", "fund_code": code, "kind": "given"}
    if meta["ins"] and rng.random() < 0.6:
        L["insurance_types"] = [GIVEN_CODES[code]]
    if rng.random() < 0.3:
        L["medical_types"] = G.subset(rng, meta["mtypes"], 1)
    if rng.random() < 0.1:
        L["levels"] = G.subset(rng, meta["levels"], 1)
    if rng.random() < 0.1:
        L["places"] = G.subset(rng, PLACES, 1)
    if rng.random() < 0.05:
        L["base"] = "all"
    return L


def gen_policy_v2(rng, pi, meta, region, frm, to):
    pre = "k%d_" % pi
    pid = "gen2-%d-%d" % (pi, rng.randint(0, 10 ** 9))
    out = ['[policy]\nid = "%s"\nname = "generated v2"\nregion = "%s"\neffective_from = "%s"\neffective_to = "%s"\n'
           % (pid, region, frm, to)]
    out.append("[levels]\n" + "".join('%s = "L-%s"\n' % (l, l) for l in meta["levels"]))
    out.append("[categories]\n" + "".join('%s = "C-%s"\n' % (c, c) for c in meta["cats"]))
    out.append("[medical_types]\n" + "".join('%s = "M-%s"\n' % (m, m) for m in meta["mtypes"]))
    for g, p in meta["groups"].items():
        out.append("[diseases.%s]\nlabel = %s\nicd10 = %s\n" % (g, G.q("G-" + g), G.val(p)))
    if meta["ins"]:
        out.append("[insurance_types]\n" + "".join('"%s" = %s\n' % (k, G.q(v)) for k, v in INS.items()))
    if rng.random() < 0.85:
        out.append("[catalogue]\nself_pay_first = { B = %s }\n" % G.q(G.rdec(rng, "0", "0.4", rng.choice([1, 2]))))
    cats, levels, mtypes = meta["cats"], meta["levels"], meta["mtypes"]
    if rng.random() < 0.5:
        w = {
            "categories": G.subset(rng, cats, 0),
            "free_items": G.subset(rng, G.KINDS[:5], 0),
            "free_item_levels": G.subset(rng, levels, 0),
            "reduction_rate": G.rdec(rng, "0", "0.2", 2),
            "reduction_levels": G.subset(rng, levels, 0),
            "reduction_medical_types": G.subset(rng, mtypes, 0),
        }
        out.append("[waivers]\n" + "".join("%s = %s\n" % (k, G.val(v)) for k, v in w.items()))
    pools = []
    for k in range(rng.choice([0, 1, 1, 2])):
        pid_ = pre + ("aid" if k == 0 else "extra")
        P = {"label": "pool " + pid_, "amount": G.ramount(rng, rng.choice([3000, 20000, 50000]))}
        if rng.random() < 0.4:
            P["by_category"] = by_cat(rng, cats, lambda: G.ramount(rng, rng.choice([5000, 30000, 80000])))
        r = rng.random()
        if r < 0.2:
            P["exempt"] = G.subset(rng, cats, 1, 2)
        elif r < 0.3:
            P["exempt"] = []
        out.append("[pools.%s]\n" % pid_ + "".join("%s = %s\n" % (kk, G.val(v)) for kk, v in P.items()))
        pools.append(pid_)

    layers = []
    n = [0]

    def nid():
        n[0] += 1
        return "%sL%d" % (pre, n[0])

    if rng.random() < 0.65:
        for code in rng.sample(list(GIVEN_CODES), rng.choice([1, 1, 2, 2, 3])):
            layers.append(given_layer(rng, nid(), code, meta))
    for _ in range(rng.randint(1, 3)):
        layers.append(ratio_or_target_layer(rng, nid(), meta, pools))
    if rng.random() < 0.5:
        tag = rng.choice(["aid", "help"])
        for _ in range(rng.choice([2, 2, 3])):
            layers.append(ratio_or_target_layer(rng, nid(), meta, pools, exclusive=tag, aid=True))
        if rng.random() < 0.25:  # a second tag
            for _ in range(2):
                layers.append(ratio_or_target_layer(rng, nid(), meta, pools, exclusive="x2", aid=rng.random() < 0.5))
    if rng.random() < 0.35:  # 倾斜救助
        L = {"id": nid(), "name": "tilt", "payer": "aid", "referral": "required",
             "places": G.subset(rng, PLACES[:3], 1),
             "deductible": {"per": "year", "amount": G.ramount(rng, 10000)},
             "ratio": G.rratio(rng), "cap": {"per": "year", "amount": G.ramount(rng, 20000)}}
        if pools and rng.random() < 0.3:
            L["pool"] = rng.choice(pools)
        layers.append(L)
    if rng.random() < 0.3:
        layers.append(ratio_or_target_layer(rng, nid(), meta, pools))
    if rng.random() < 0.1:  # a late given layer
        used = {L["fund_code"] for L in layers if L.get("kind") == "given"}
        free = [c for c in GIVEN_CODES if c not in used]
        if free:
            layers.insert(rng.randint(1, len(layers)), given_layer(rng, nid(), rng.choice(free), meta))
    for L in layers:
        s = "[[layers]]\n"
        sub_ded = "deductible" in L and rng.random() < 0.4
        for k, v in L.items():
            if k == "deductible" and sub_ded:
                continue
            s += "%s = %s\n" % (k, G.val(v))
        if sub_ded:
            s += "[layers.deductible]\n" + "".join("%s = %s\n" % (k, G.val(v)) for k, v in L["deductible"].items())
        out.append(s)
    return pid, "\n".join(out)


# ------------------------------------------------------------------ claims

def related_code(rng, code):
    """hospital region relative to the insured region"""
    r = rng.random()
    if r < 0.4:
        return code
    prov = REGIONS[code[:2]]
    if r < 0.6:
        return rng.choice(prov[code[:4]])
    if r < 0.8:
        return rng.choice([c for city in prov.values() for c in city])
    return rng.choice(CODES)


def gen_item_v2(rng, i):
    it = G.gen_item(rng, i)
    if it["class"] in "AB" and rng.random() < 0.15:
        it["self_pay_ratio"] = rng.choice(["0", "1", "0.2", "0.05", "0.333", G.rdec(rng, "0", "1", 2)])
    return it


def gen_claims_v2(rng, meta, years, feats, covered):
    persons = []
    for p in range(rng.randint(2, 6)):
        it = None
        if meta["ins"]:
            r = rng.random()
            it = "390" if r < 0.7 else ("310" if r < 0.9 else None)
        persons.append({"id": "P%03d" % p, "cats": G.subset(rng, meta["cats"], 0, 3),
                        "region": (rng.choice(covered) if covered and rng.random() < 0.96 else rng.choice(CODES))
                        if rng.random() < 0.85 else None, "ins": it})
    claims = []
    seq = 0
    for P in persons:
        for _ in range(rng.randint(5, 16) if "many" in feats else rng.randint(2, 7)):
            seq += 1
            cats = P["cats"] if rng.random() < 0.85 else G.subset(rng, meta["cats"], 0, 3)
            year = rng.choice(years) if rng.random() < 0.97 else rng.choice([2022, 2025])
            mo, day = rng.randint(1, 12), rng.randint(1, 28)
            mt = rng.choice(meta["mtypes"])
            c = {"claim_id": "C%04d" % seq, "hospital": "H%03d" % rng.randint(1, 9),
                 "hospital_level": rng.choice(meta["levels"]), "person_id": P["id"], "categories": cats,
                 "medical_type": mt,
                 "admitted_on": "%d-%02d-%02d" % (year, mo, max(1, day - rng.randint(0, 5) * mt.startswith("in"))),
                 "discharged_on": "%d-%02d-%02d" % (year, mo, day),
                 "diagnoses": [rng.choice(G.DIAGS) for _ in range(rng.randint(1, 3))],
                 "items": [gen_item_v2(rng, i) for i in range(rng.randint(1, 20))]}
            if P["ins"] and rng.random() < 0.95:
                c["insurance_type"] = P["ins"]
            elif P["ins"]:
                c["insurance_type"] = rng.choice(list(INS))
            ins_region = P["region"] if rng.random() < 0.92 else None
            if ins_region:
                c["insured_region"] = ins_region
                if rng.random() < 0.9:
                    c["hospital_region"] = related_code(rng, ins_region)
            elif rng.random() < 0.7:
                c["hospital_region"] = rng.choice(covered) if covered and rng.random() < 0.9 else rng.choice(CODES)
            r = rng.random()
            if r < 0.3:
                c["referral"] = False
            elif r < 0.45:
                c["referral"] = True
            # some key orders as a hospital might send them
            if rng.random() < 0.3:
                keys = list(c)
                rng.shuffle(keys)
                c = {k: c[k] for k in keys}
            claims.append(c)
    rng.shuffle(claims)
    return claims


def money(x):
    return str(oracle.r2(x))


def fill_fund_payments(rng, pols, claim, accs):
    """choose fund_payments for the in-scope given layers with dry runs"""
    errs, pol = oracle.static_errors(pols, claim)
    if pol is None:
        return
    groups = oracle.matching_groups(pol, claim)
    flags = oracle.scope_flags(pol, claim, groups)
    given = [L for L, f in zip(pol.layers, flags) if f and L.get("kind") == "given"]
    if not given:
        if rng.random() < 0.25:
            claim["fund_payments"] = {}
        return
    fp = {}
    claim["fund_payments"] = fp
    for L in given:
        code = L["fund_code"]
        try:
            ans = oracle.settle_claim(pols, claim, dict(accs))
        except oracle.Refusal:
            return
        base = D(next(l for l in ans["layers"] if l["id"] == L["id"])["base"])
        r = rng.random()
        if r < 0.1:
            continue  # absent: pays 0.00
        if r < 0.2:
            fp[code] = "0.00"
        elif r < 0.35:
            fp[code] = money(base)
        elif r < 0.9:
            fp[code] = money(base * D(rng.randint(30, 95)) / 100)
        else:
            fp[code] = money(min(base, D(rng.randint(0, 500))))
        if rng.random() < 0.05 and D(fp[code]) == D(fp[code]).to_integral_value():
            fp[code] = str(D(fp[code]).to_integral_value())


def mutate(rng, pols, claim, accs):
    """a copy of a valid claim with exactly one error, or None"""
    errs, pol = oracle.static_errors(pols, claim)
    kinds = ["remark", "item_note", "ins", "spr_c", "spr_range", "fp_key", "fp_missing", "fp_over",
             "no_policy", "uncovered", "ambiguous"]
    kind = rng.choice(kinds)
    c = copy.deepcopy(claim)
    groups = oracle.matching_groups(pol, c)
    flags = oracle.scope_flags(pol, c, groups)
    given = [L for L, f in zip(pol.layers, flags) if f and L.get("kind") == "given"]
    if kind == "remark":
        c[rng.choice(["remark", "note", "insutype", "Referral"])] = "x"
        path = [k for k in c if k not in oracle.KNOWN_TOP][0]
    elif kind == "item_note":
        i = rng.randrange(len(c["items"]))
        k = rng.choice(["note", "selfpay_prop", "limit"])
        c["items"][i][k] = "x"
        path = "items[%d].%s" % (i, k)
    elif kind == "ins":
        c["insurance_type"] = rng.choice(["999", "320", "391"])
        path = "insurance_type"
    elif kind == "spr_c":
        cs = [i for i, it in enumerate(c["items"]) if it["class"] == "C"]
        if cs:
            i = rng.choice(cs)
        else:
            c["items"].append({"code": "X1", "name": "self-paid", "kind": "drug", "class": "C", "amount": "12.00"})
            i = len(c["items"]) - 1
        c["items"][i]["self_pay_ratio"] = rng.choice(["0", "0.5", "1"])
        path = "items[%d].self_pay_ratio" % i
    elif kind == "spr_range":
        ab = [i for i, it in enumerate(c["items"]) if it["class"] in "AB"]
        if not ab:
            return None
        i = rng.choice(ab)
        c["items"][i]["self_pay_ratio"] = rng.choice(["1.01", "-0.1", "2", "-1"])
        path = "items[%d].self_pay_ratio" % i
    elif kind == "fp_key":
        inscope = {L["fund_code"] for L in given}
        cands = [L["fund_code"] for L in pol.layers if L.get("kind") == "given" and L["fund_code"] not in inscope]
        cands += [x for x in OTHER_CODES + list(GIVEN_CODES) if x not in inscope]
        code = rng.choice(cands)
        c.setdefault("fund_payments", {})[code] = rng.choice(["0.00", "10.00"])
        path = "fund_payments.%s" % code
    elif kind == "fp_missing":
        if not given:
            return None
        c.pop("fund_payments", None)
        path = "fund_payments"
    elif kind == "fp_over":
        if not given:
            return None
        L = rng.choice(given)
        code = L["fund_code"]
        fp = c["fund_payments"]
        fp[code] = "0.00"
        try:
            ans = oracle.settle_claim(pols, c, dict(accs))
        except oracle.Refusal:
            return None
        base = D(next(l for l in ans["layers"] if l["id"] == L["id"])["base"])
        fp[code] = money(base + rng.choice([D("0.01"), D("1"), base / 2 + 1]))
        # later given layers must not exceed their own bases first: zero them
        seen = False
        for G2 in given:
            if G2 is L:
                seen = True
            elif seen:
                fp.pop(G2["fund_code"], None)
        path = "fund_payments.%s" % code
    elif kind == "no_policy":
        y = rng.choice([2019, 2026])
        c["admitted_on"] = "%d%s" % (y, c["admitted_on"][4:])
        c["discharged_on"] = "%d%s" % (y, c["discharged_on"][4:])
        path = "discharged_on"
    elif kind == "uncovered":
        field = "insured_region" if c.get("insured_region") else "hospital_region"
        c[field] = rng.choice(["990101", "420101", "510105"])
        path = field
    else:  # ambiguous
        c.pop("insured_region", None)
        c.pop("hospital_region", None)
        path = "insured_region"
    errs, _ = oracle.static_errors(pols, c)
    if len(errs) > 1:
        return None
    try:
        oracle.settle_claim(pols, c, dict(accs))
    except oracle.Refusal as e:
        if e.path == path:
            return c
    return None


def main_v2(seed, outdir, feats):
    rng = random.Random(seed)
    meta = gen_meta(rng)
    layout = policy_layout(rng)
    pdir = os.path.join(outdir, "policies")
    os.makedirs(pdir, exist_ok=True)
    for f in os.listdir(pdir):
        if f.endswith(".toml"):
            os.remove(os.path.join(pdir, f))
    paths = []
    for pi, (region, frm, to) in enumerate(layout):
        pid, text = gen_policy_v2(rng, pi, meta, region, frm, to)
        path = os.path.join(pdir, "%02d-%s.toml" % (pi, pid))
        with open(path, "w") as f:
            f.write(text)
        paths.append(path)
    pols = oracle.load_policies(paths)
    years = sorted({int(frm[:4]) for _, frm, _ in layout} | {int(to[:4]) for _, _, to in layout})
    covered = [c for c in CODES if any(c.startswith(oracle.strip_region(r)) for r, _, _ in layout)]
    claims = gen_claims_v2(rng, meta, years, feats, covered)
    accs = {}
    out = []
    for c in claims:
        fill_fund_payments(rng, pols, c, accs)
        errs, _ = oracle.static_errors(pols, c)
        if not errs and rng.random() < 0.15:
            for _ in range(4):
                m = mutate(rng, pols, c, accs)
                if m is not None:
                    c = m
                    break
        oracle.answer_or_error(pols, c, accs)  # carry the accumulators
        out.append(c)
    with open(os.path.join(outdir, "claims.jsonl"), "w") as f:
        for c in out:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
