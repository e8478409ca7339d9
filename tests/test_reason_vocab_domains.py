"""How people say why they left, in the domains the hidden checks of issue #15 come from: a telecom's churn
reasons (devices, data, speeds, charges, support, moves, deaths) and complaint subjects against a cable or
telecom company (billing disputes, fees, outages, speed, customer service), plus exit sentences in the
grammar people use (negation, "went back to", "could get the same for less", hypotheticals).

Written for this test from the issue's text, not copied from any real export. Each row lists every defensible
label, as the real-data scorer does; the thresholds are the issue's hidden targets (telecom 95% on both axes,
complaints 85% on the *what* axis). Part of the complaint and exit rows were written while the grammar rules
were extended, so they guard those rules against regressions rather than measure them held out.
"""

from __future__ import annotations

from churnwhy.models.reasons import classify

BF, BO, CI, UN = "brand_failed", "better_offer", "circumstance", "unknown"

TELECOM = [
    ("Rival network offered bigger data bundles", {BO}, {"product", UN}),
    ("Other carrier had newer handsets", {BO}, {"product", UN}),
    ("Went to a competitor for faster broadband", {BO}, {"product", UN}),
    ("Competitor's plan was cheaper", {BO}, {"price"}),
    ("Monthly charges too high", {BF}, {"price"}),
    ("Excess data fees", {BF}, {"price"}),
    ("International call charges", {BF}, {"price"}),
    ("Roaming costs", {BF}, {"price"}),
    ("Poor coverage at home", {BF}, {"product"}),
    ("Network keeps dropping", {BF}, {"product"}),
    ("Slow mobile data", {BF}, {"product"}),
    ("Unhappy with the handset", {BF}, {"product"}),
    ("Rude call centre agent", {BF}, {"experience"}),
    ("Store staff lacked knowledge", {BF}, {"experience"}),
    ("No way to manage my account online", {BF}, {"experience", "product"}),
    ("Dissatisfied with service", {BF}, {"experience", "product"}),
    ("Relocated", {CI}, {"other"}),
    ("Customer passed away", {CI}, {"other"}),
    ("Not sure", {UN}, {UN}),
    ("Unaffordable upload speeds", {BF}, {"product", "price"}),
]

COMPLAINTS = [
    ("Billing dispute over equipment rental", {"experience", "price"}),
    ("Overbilled for three months", {"experience", "price"}),
    ("Unexplained fee on my statement", {"price", "experience"}),
    ("Late fee even though I paid on time", {"price", "experience"}),
    ("Charged for a box I never ordered", {"experience", "price"}),
    ("Credit not applied to my account", {"experience"}),
    ("Still billed after cancelling", {"experience", "price"}),
    ("Rate went up after the promotion ended", {"price"}),
    ("Was promised a lower rate", {"price"}),
    ("Early termination fee", {"price"}),
    ("Internet down for a week", {"product"}),
    ("Cable keeps going out", {"product"}),
    ("Constant service interruptions", {"product"}),
    ("Slow internet speeds", {"product"}),
    ("Not getting the speed I pay for", {"product"}),
    ("Throttled connection", {"product"}),
    ("Data cap", {"product", "price"}),
    ("DVR keeps failing", {"product"}),
    ("Lost channels in my package", {"product"}),
    ("Terrible customer service", {"experience"}),
    ("Technician never showed up", {"experience"}),
    ("On hold for two hours", {"experience"}),
    ("Representative hung up on me", {"experience"}),
    ("Cannot cancel my account", {"experience"}),
    ("Account closed without my consent", {"experience"}),
    ("Misleading advertising", {"experience", "product", "price"}),
    ("False advertising about speeds", {"product"}),
    ("Refund never received", {"experience"}),
    ("They would not delete my personal data", {"experience", "other"}),
    ("Unauthorized charges", {"price", "experience"}),
    ("Billed for equipment I already returned", {"experience", "price"}),
    ("Sent to collections for a bill we paid", {"experience", "price"}),
    ("Paying for 300 Mbps, getting 20", {"product"}),
    ("No competition in my area so they charge what they like", {"other", "price", UN}),
]

EXITS = [
    ("I ended up going back to the supermarket, it's cheaper and I pick what I want", {BO}, {"price"}),
    ("I could get the same thing at the warehouse club for half the price", {BO}, {"price"}),
    ("They charged me for data I never used", {BF}, {"experience", "price"}),
    ("The boxes piled up because I kept not cooking them", {CI, BF}, {"other", "product"}),
    ("Honestly too expensive for what it is", {BF}, {"price"}),
    ("It's not the quality we paid for", {BF}, {"product"}),
    ("They stopped selling the one I liked", {BF}, {"product"}),
    ("We outgrew it", {CI, BF}, {"product", "other"}),
    ("Still haven't heard back from support", {BF}, {"experience"}),
    ("If speed is a big factor for you it's fine, but the shops are around the corner", {BO}, {UN, "other", "price"}),
]


def _agreement(rows: list[tuple], axes: str) -> tuple[float, list[str]]:
    got = classify([r[0] for r in rows]).to_dicts()
    misses = []
    for row, g in zip(rows, got, strict=True):
        ok = g["what"] in row[-1] and (axes == "what" or g["why"] in row[1])
        if not ok:
            misses.append(f"{row[0]!r}: got {g['why']}/{g['what']}")
    return 1 - len(misses) / len(rows), misses


def test_telecom_churn_reasons_land_in_a_defensible_cell():
    share, misses = _agreement(TELECOM, "both")
    assert share >= 0.95, misses


def test_complaint_subjects_land_on_a_defensible_what():
    share, misses = _agreement(COMPLAINTS, "what")
    assert share >= 0.85, misses


def test_exit_sentences_read_their_grammar():
    share, misses = _agreement(EXITS, "both")
    assert share >= 0.9, misses
