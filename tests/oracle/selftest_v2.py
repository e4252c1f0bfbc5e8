#!/usr/bin/env python3
"""Self-test of the version-2 oracle: the seven hand-worked cases of
/work/shared/reference/county-rules-2024.md (a 2024-style county policy), plus
policy choice by region and the version-2 refusals.

Three policies, all in force in 2024, chosen by region:
  A  county-2024-platform  region 411303: basic and critical settled by the
     platform (kind = "given", 390100 / 390200), then the aid layers.
  B  city-2024             region 411300: basic computed (county 85 % after
     500 per admission, province 60 % after 1,200, -10 points unreferred),
     employees' basic (310: 90 % after 1,000), critical 14,000/year at 60 %,
     aid 就高不重复 (tekun/dibao, dibao_edge, illness_poverty), 倾斜救助.
  C  province-2024         region 410000: a 5,000 pool shared by outpatient
     and inpatient aid; per-disease chronic limits.
Run: python3 tests/oracle/selftest_v2.py
"""
import os
import sys
import tomllib
from decimal import Decimal as D

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

COMMON = """
[levels]
county = "县级"
city = "市级"
province = "省级"

[categories]
tekun = "特困"
dibao = "低保"
dibao_edge = "低保边缘"
illness_poverty = "因病致贫"

[medical_types]
inpatient = "住院"
outpatient_chronic = "门诊慢特病"

[diseases.diabetes]
label = "糖尿病"
icd10 = ["E11"]

[diseases.hypertension]
label = "高血压"
icd10 = ["I10"]

[insurance_types]
"390" = "城乡居民基本医疗保险"
"310" = "职工基本医疗保险"

[catalogue]
self_pay_first = { B = "0.10" }
"""

AID = """
[pools.aid]
label = "医疗救助年度限额"
amount = "50000"

[[layers]]
id = "%(p)said_core"
payer = "aid"
fund_code = "610100"
exclusive = "aid"
categories = ["tekun", "dibao"]
ratio_by_category = { tekun = "0.80", dibao = "0.75" }
pool = "aid"

[[layers]]
id = "%(p)said_edge"
payer = "aid"
fund_code = "610100"
exclusive = "aid"
ratio_by_category = { dibao_edge = "0.60" }
deductible = { per = "year", amount = "2800" }
pool = "aid"

[[layers]]
id = "%(p)said_illness"
payer = "aid"
fund_code = "610100"
exclusive = "aid"
ratio_by_category = { illness_poverty = "0.50" }
deductible = { per = "year", amount = "2800", by_category = { illness_poverty = "7000" } }
pool = "aid"

[[layers]]
id = "%(p)stilt"
payer = "aid"
referral = "required"
places = ["county", "city", "province"]
deductible = { per = "year", amount = "10000" }
ratio = "0.50"
cap = { per = "year", amount = "20000" }
"""

POLICY_A = """
[policy]
id = "county-2024-platform"
region = "411303"
effective_from = "2024-01-01"
effective_to = "2024-12-31"
""" + COMMON + """
[[layers]]
id = "a_basic"
payer = "insurance"
fund_code = "390100"
kind = "given"
insurance_types = ["390"]

[[layers]]
id = "a_critical"
payer = "insurance"
fund_code = "390200"
kind = "given"
insurance_types = ["390"]
""" + AID % {"p": "a_"}

POLICY_B = """
[policy]
id = "city-2024"
region = "411300"
effective_from = "2024-01-01"
effective_to = "2024-12-31"
""" + COMMON + """
[[layers]]
id = "b_basic"
payer = "insurance"
fund_code = "390100"
insurance_types = ["390"]
medical_types = ["inpatient"]
ratio = { county = "0.85", city = "0.75", province = "0.60" }
ratio_adjust = { unreferred = "-0.10" }
deductible = { per = "admission", amount = { county = "500", city = "800", province = "1200" } }
cap = { per = "year", amount = "150000" }

[[layers]]
id = "b_basic_employee"
payer = "insurance"
fund_code = "310100"
insurance_types = ["310"]
medical_types = ["inpatient"]
ratio = "0.90"
deductible = { per = "admission", amount = "1000" }

[[layers]]
id = "b_critical"
payer = "insurance"
fund_code = "390200"
insurance_types = ["390"]
medical_types = ["inpatient"]
deductible = { per = "year", amount = "14000" }
ratio = "0.60"
""" + AID % {"p": "b_"}

POLICY_C_TMPL = """
[policy]
id = "province-2024"
region = "410000"
effective_from = "2024-01-01"
effective_to = "2024-12-31"
""" + COMMON + """
[pools.small]
amount = "5000"

[[layers]]
id = "c_aid_out"
payer = "aid"
medical_types = ["outpatient_chronic"]
categories = ["dibao"]
ratio = "0.75"
pool = "small"

[[layers]]
id = "c_aid_in"
payer = "aid"
medical_types = ["inpatient"]
categories = ["dibao"]
ratio = "0.75"
pool = "small"

[[layers]]
id = "c_chronic"
payer = "insurance"
medical_types = ["outpatient_chronic"]
diseases = ["diabetes", "hypertension"]
ratio = "0.60"
cap = { per = "year", amount = { default = "0", diabetes = "3000", hypertension = "2000" }%(pg)s }
"""
POLICY_C = POLICY_C_TMPL % {"pg": ", per_group = true"}
POLICY_C_NO_GROUP = POLICY_C_TMPL % {"pg": ""}


def pol(text, name):
    return oracle.Policy(tomllib.loads(text), name)


A, B, C = pol(POLICY_A, "A"), pol(POLICY_B, "B"), pol(POLICY_C, "C")
ALL = [A, B, C]
N = [0]


def claim(**kw):
    N[0] += 1
    c = {"claim_id": "T%03d" % N[0], "hospital": "H1", "hospital_level": "county",
         "person_id": "P1", "categories": [], "medical_type": "inpatient",
         "admitted_on": "2024-03-01", "discharged_on": "2024-03-10", "diagnoses": ["K35.8"],
         "insurance_type": "390",
         "items": [{"code": "1", "name": "x", "kind": "treatment", "class": "A", "amount": "20000.00"}]}
    c.update(kw)
    return c


def item(amount, cls="A", **kw):
    it = {"code": "1", "name": "x", "kind": "treatment", "class": cls, "amount": amount}
    it.update(kw)
    return it


def layer(ans, lid):
    return next(l for l in ans["layers"] if l["id"] == lid)


def eq(a, b, what):
    if str(a) != str(b):
        raise AssertionError("%s: got %s, expected %s" % (what, a, b))


def refused(policies, c, accs, path):
    before = {k: dict(v) for k, v in accs.items()}
    try:
        ans = oracle.settle_claim(policies, c, accs)
    except oracle.Refusal as e:
        eq(e.path, path, "refusal path of %s" % c["claim_id"])
        if accs != before:
            raise AssertionError("a refused claim changed accumulators")
        return e
    raise AssertionError("expected refusal at %s, got answer %s" % (path, ans))


def case1():
    # given insurance: dibao_edge, county, class A 20,000.00
    accs = {}
    c = claim(person_id="P1", categories=["dibao_edge"], insured_region="411303", hospital_region="411303",
              fund_payments={"390100": "16575.00", "390200": "0.00"})
    a = oracle.settle_claim(ALL, c, accs)
    eq(a["policy_id"], "county-2024-platform", "case 1 policy")
    eq(layer(a, "a_basic")["paid"], "16575.00", "case 1 basic")
    eq(layer(a, "a_critical")["paid"], "0.00", "case 1 critical")
    eq(layer(a, "a_critical")["base"], "3425.00", "case 1 critical base")
    eq(layer(a, "a_aid_core")["applied"], False, "case 1 aid_core out of scope")
    eq(layer(a, "a_aid_edge")["deductible"], "2800.00", "case 1 aid deductible")
    eq(layer(a, "a_aid_edge")["paid"], "375.00", "case 1 aid")
    eq(layer(a, "a_tilt")["paid"], "0.00", "case 1 tilt")
    eq(a["patient_payable"], "3050.00", "case 1 patient")
    eq(a["fund_paid"], "16950.00", "case 1 fund")
    # the same claim with only insured_region (hospital_region missing: place county) picks A too
    c2 = claim(person_id="P1b", categories=["dibao_edge"], insured_region="411303",
               fund_payments={"390100": "16575.00"})
    a2 = oracle.settle_claim(ALL, c2, {})
    eq(a2["policy_id"], "county-2024-platform", "case 1b policy")
    eq(a2["patient_payable"], "3050.00", "case 1b patient (absent 390200 pays 0.00)")


def case2():
    # self_pay_ratio 0.20 on a class-B item of 1,000.00 (catalogue says 0.10)
    c = claim(person_id="P2", insured_region="411321", hospital_region="411321",
              items=[item("1000.00", "B", self_pay_ratio="0.20"), item("1000.00", "B")])
    a = oracle.settle_claim(ALL, c, {})
    eq(a["policy_id"], "city-2024", "case 2 policy")
    eq(a["self_pay_first"], "300.00", "case 2 self_pay_first (200.00 + 100.00)")
    eq(a["in_policy"], "1700.00", "case 2 in_policy (800.00 + 900.00)")
    c = claim(person_id="P2", insured_region="411321", items=[item("1000.00", "B", self_pay_ratio="0.20")])
    a = oracle.settle_claim(ALL, c, {})
    eq(a["self_pay_first"], "200.00", "case 2 self_pay_first")
    eq(a["in_policy"], "800.00", "case 2 in_policy")


def case3():
    # not referred, province hospital (level and place), dibao_edge, 100,000.00
    accs = {}
    c = claim(person_id="P3", categories=["dibao_edge"], hospital_level="province",
              insured_region="411321", hospital_region="410105", referral=False,
              items=[item("100000.00")])
    a = oracle.settle_claim(ALL, c, accs)
    eq(a["policy_id"], "city-2024", "case 3 policy")
    eq(layer(a, "b_basic")["ratio"], "0.50", "case 3 basic ratio")
    eq(layer(a, "b_basic")["paid"], "49400.00", "case 3 basic")
    eq(layer(a, "b_critical")["paid"], "21960.00", "case 3 critical")
    eq(layer(a, "b_aid_edge")["paid"], "15504.00", "case 3 aid")
    eq(layer(a, "b_tilt")["applied"], False, "case 3 tilt not referred")
    eq(layer(a, "b_tilt")["paid"], "0.00", "case 3 tilt")
    eq(a["patient_payable"], "13136.00", "case 3 patient")
    # referred, same hospital: no adjustment, tilt in scope (province place)
    c = claim(person_id="P3r", categories=["dibao_edge"], hospital_level="province",
              insured_region="411321", hospital_region="410105", items=[item("100000.00")])
    a = oracle.settle_claim(ALL, c, {})
    eq(layer(a, "b_basic")["paid"], "59280.00", "case 3r basic (98,800 x 60 %)")
    eq(layer(a, "b_tilt")["applied"], True, "case 3r tilt in scope")


def case4():
    # a pool of 5,000 shared by outpatient and inpatient aid, dibao
    accs = {}
    c = claim(person_id="P4", categories=["dibao"], insured_region="410105", hospital_region="410105",
              medical_type="outpatient_chronic", admitted_on="2024-02-01", discharged_on="2024-02-01",
              items=[item("20000.00")])
    a = oracle.settle_claim(ALL, c, accs)
    eq(a["policy_id"], "province-2024", "case 4 policy")
    eq(layer(a, "c_aid_out")["paid"], "5000.00", "case 4 outpatient aid")
    eq(layer(a, "c_aid_out")["cap_limited"], True, "case 4 outpatient aid pool-limited")
    # a refused claim in between changes nothing
    bad = claim(person_id="P4", categories=["dibao"], insured_region="410105", remark="x",
                items=[item("10000.00")])
    refused(ALL, bad, accs, "remark")
    c = claim(person_id="P4", categories=["dibao"], insured_region="410105", hospital_region="410105",
              admitted_on="2024-05-01", discharged_on="2024-05-09", items=[item("10000.00")])
    a = oracle.settle_claim(ALL, c, accs)
    eq(layer(a, "c_aid_in")["applied"], True, "case 4 inpatient aid in scope")
    eq(layer(a, "c_aid_in")["paid"], "0.00", "case 4 inpatient aid after the pool is spent")
    eq(layer(a, "c_aid_in")["cap_limited"], True, "case 4 inpatient aid pool-limited")
    # next year: a fresh pool
    PC25 = pol(POLICY_C.replace("2024-01-01", "2025-01-01").replace("2024-12-31", "2025-12-31")
               .replace('"province-2024"', '"province-2025"'), "C25")
    c = claim(person_id="P4", categories=["dibao"], insured_region="410105",
              admitted_on="2025-05-01", discharged_on="2025-05-09", items=[item("1000.00")])
    a = oracle.settle_claim(ALL + [PC25], c, accs)
    eq(a["policy_id"], "province-2025", "case 4 next year policy")
    eq(layer(a, "c_aid_in")["paid"], "750.00", "case 4 next year pool")


def case5():
    # two identities, exclusive aid layers with dibao_edge first, county, 100,000.00
    c = claim(person_id="P5", categories=["illness_poverty", "dibao_edge"], insured_region="411321",
              hospital_region="411321", items=[item("100000.00")])
    a = oracle.settle_claim(ALL, c, {})
    eq(layer(a, "b_basic")["paid"], "84575.00", "case 5 basic")
    eq(layer(a, "b_critical")["paid"], "855.00", "case 5 critical")
    eq(layer(a, "b_aid_edge")["paid"], "7062.00", "case 5 dibao_edge aid")
    eq(layer(a, "b_aid_illness")["applied"], False, "case 5 illness aid excluded")
    eq(layer(a, "b_aid_illness")["paid"], "0.00", "case 5 illness aid")
    # illness_poverty alone: the by_category deductible 7,000 replaces 2,800
    c = claim(person_id="P5b", categories=["illness_poverty"], insured_region="411321",
              items=[item("100000.00")])
    a = oracle.settle_claim(ALL, c, {})
    eq(layer(a, "b_aid_illness")["deductible"], "7000.00", "case 5b deductible by category")
    eq(layer(a, "b_aid_illness")["paid"], "3785.00", "case 5b (14,570 - 7,000) x 50 %")


def case6():
    # per-disease chronic limits: diabetes 3,000, hypertension 2,000, 60 %
    for policies, second in (([A, B, C], "600.00"), ([A, B, pol(POLICY_C_NO_GROUP, "C0")], "0.00")):
        accs = {}
        c = claim(person_id="P6", insured_region="410105", medical_type="outpatient_chronic",
                  diagnoses=["E11.9"], admitted_on="2024-04-01", discharged_on="2024-04-01",
                  items=[item("4000.00")])
        a = oracle.settle_claim(policies, c, accs)
        eq(layer(a, "c_chronic")["paid"], "2400.00", "case 6 diabetes")
        c = claim(person_id="P6", insured_region="410105", medical_type="outpatient_chronic",
                  diagnoses=["I10"], admitted_on="2024-06-01", discharged_on="2024-06-01",
                  items=[item("1000.00")])
        a = oracle.settle_claim(policies, c, accs)
        eq(layer(a, "c_chronic")["paid"], second, "case 6 hypertension")
    # diabetes again under per_group: 600 left of 3,000
    accs = {}
    for amt, exp in (("4000.00", "2400.00"), ("1000.00", "600.00"), ("2000.00", "600.00")):
        c = claim(person_id="P6b", insured_region="410105", medical_type="outpatient_chronic",
                  diagnoses=["e11.2"] if amt != "1000.00" else ["I10.0"], items=[item(amt)])
        a = oracle.settle_claim(ALL, c, accs)
        eq(layer(a, "c_chronic")["paid"], exp, "case 6b %s" % amt)


def case7():
    # employee (insutype 310), dibao, county, 20,000.00
    c = claim(person_id="P7", categories=["dibao"], insurance_type="310", insured_region="411321",
              hospital_region="411321")
    a = oracle.settle_claim(ALL, c, {})
    eq(layer(a, "b_basic")["applied"], False, "case 7 resident basic out of scope")
    eq(layer(a, "b_basic_employee")["paid"], "17100.00", "case 7 employee basic")
    eq(layer(a, "b_critical")["applied"], False, "case 7 resident critical out of scope")
    eq(layer(a, "b_aid_core")["paid"], "2175.00", "case 7 aid")
    eq(a["patient_payable"], "725.00", "case 7 patient")


def refusals():
    accs = {}
    base = dict(person_id="PR", categories=["dibao_edge"], insured_region="411303",
                fund_payments={"390100": "16575.00"})
    # unknown fields
    refused(ALL, claim(remark="x", **base), accs, "remark")
    refused(ALL, claim(items=[item("1"), item("2"), item("3"), item("4", note="x")], **base), accs, "items[3].note")
    # insurance type
    refused(ALL, claim(**dict(base, insurance_type="999")), accs, "insurance_type")
    # self_pay_ratio
    refused(ALL, claim(items=[item("100", "C", self_pay_ratio="0.5")], **base), accs, "items[0].self_pay_ratio")
    refused(ALL, claim(items=[item("100", "A"), item("100", "B", self_pay_ratio="1.01")], **base), accs,
            "items[1].self_pay_ratio")
    refused(ALL, claim(items=[item("100", "A", self_pay_ratio="-0.1")], **base), accs, "items[0].self_pay_ratio")
    # fund_payments
    refused(ALL, claim(**dict(base, fund_payments={"390100": "1.00", "610100": "0.00"})), accs,
            "fund_payments.610100")
    refused(ALL, claim(**{k: v for k, v in base.items() if k != "fund_payments"}), accs, "fund_payments")
    refused(ALL, claim(**dict(base, fund_payments={"390100": "20000.01"})), accs, "fund_payments.390100")
    refused(ALL, claim(**dict(base, fund_payments={"390100": "16575.00", "390200": "3425.01"})), accs,
            "fund_payments.390200")
    # employee at A: given layers out of scope, so their codes are refused and fund_payments is not required
    refused(ALL, claim(**dict(base, insurance_type="310")), accs, "fund_payments.390100")
    a = oracle.settle_claim(ALL, claim(**{k: v for k, v in dict(base, insurance_type="310").items()
                                          if k != "fund_payments"}), {})
    eq(a["fund_paid"], "10320.00", "employee at A: aid only, (20,000 - 2,800) x 60 %")
    # policy choice
    refused(ALL, claim(**dict(base, discharged_on="2025-01-01", admitted_on="2025-01-01")), accs, "discharged_on")
    refused(ALL, claim(**dict(base, insured_region="420101")), accs, "insured_region")
    refused(ALL, claim(**{k: v for k, v in dict(base, hospital_region="420101").items()
                          if k != "insured_region"}), accs, "hospital_region")
    nb = {k: v for k, v in base.items() if k != "insured_region"}
    refused(ALL, claim(**nb), accs, "insured_region")  # no region, three policies in force: ambiguous
    a = oracle.settle_claim([A], claim(**nb), {})  # one policy in force: used
    eq(a["patient_payable"], "3050.00", "no region, one policy")
    # insured region decides over the hospital's
    a = oracle.settle_claim(ALL, claim(**dict(base, hospital_region="410105")), {})
    eq(a["policy_id"], "county-2024-platform", "insured region decides")
    if accs:
        raise AssertionError("refused claims left accumulators: %r" % accs)


def design_example():
    # §4 worked example, version-1 policy of §2, must be unchanged
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    p = os.path.join(root, "fixtures", "design", "policy.toml")
    cpath = os.path.join(root, "fixtures", "design", "claim.json")
    if not (os.path.exists(p) and os.path.exists(cpath)):
        return
    a = oracle.settle_claim(oracle.load_policies([p]), oracle.load_claims(cpath)[0], {})
    eq(a["patient_payable"], "59.58", "design example patient")
    eq(a["reimbursement_ratio"], "0.8167", "design example ratio")


def main():
    for t in (case1, case2, case3, case4, case5, case6, case7, refusals, design_example):
        t()
        print("ok", t.__name__)
    print("selftest_v2: all passed")


if __name__ == "__main__":
    main()
