"""Generic Shapley values against LMG (the Shapley value of R²) reference numbers from R.

Reference: /work/shared/REFERENCES.md section 5. R brute force over every subset `lm` with Shapley weights
k!(p-k-1)!/p!; the swiss values equal relaimpo 2.2-7 `calc.relimp(lm(Fertility ~ ., swiss), type="lmg")`.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from churnwhy.models.shapley import lmg, shapley_values

SWISS_CSV = """\
Fertility,Agriculture,Examination,Education,Catholic,Infant.Mortality
80.2,17,15,12,9.96,22.2
83.1,45.1,6,9,84.84,22.2
92.5,39.7,5,5,93.4,20.2
85.8,36.5,12,7,33.77,20.3
76.9,43.5,17,15,5.16,20.6
76.1,35.3,9,7,90.57,26.6
83.8,70.2,16,7,92.85,23.6
92.4,67.8,14,8,97.16,24.9
82.4,53.3,12,7,97.67,21
82.9,45.2,16,13,91.38,24.4
87.1,64.5,14,6,98.61,24.5
64.1,62,21,12,8.52,16.5
66.9,67.5,14,7,2.27,19.1
68.9,60.7,19,12,4.43,22.7
61.7,69.3,22,5,2.82,18.7
68.3,72.6,18,2,24.2,21.2
71.7,34,17,8,3.3,20
55.7,19.4,26,28,12.11,20.2
54.3,15.2,31,20,2.15,10.8
65.1,73,19,9,2.84,20
65.5,59.8,22,10,5.23,18
65,55.1,14,3,4.52,22.4
56.6,50.9,22,12,15.14,16.7
57.4,54.1,20,6,4.2,15.3
72.5,71.2,12,1,2.4,21
74.2,58.1,14,8,5.23,23.8
72,63.5,6,3,2.56,18
60.5,60.8,16,10,7.72,16.3
58.3,26.8,25,19,18.46,20.9
65.4,49.5,15,8,6.1,22.5
75.5,85.9,3,2,99.71,15.1
69.3,84.9,7,6,99.68,19.8
77.3,89.7,5,2,100,18.3
70.5,78.2,12,6,98.96,19.4
79.4,64.9,7,3,98.22,20.2
65,75.9,9,9,99.06,17.8
92.2,84.6,3,3,99.46,16.3
79.3,63.1,13,13,96.83,18.1
70.4,38.4,26,12,5.62,20.3
65.7,7.7,29,11,13.79,20.5
72.7,16.7,22,13,11.22,18.9
64.4,17.6,35,32,16.92,23
77.6,37.6,15,7,4.97,20
67.6,18.7,25,7,8.65,19.5
35,1.2,37,53,42.34,18
44.7,46.6,16,29,50.43,18.2
42.8,27.7,22,29,58.33,19.3
"""

MTCARS_CSV = """\
mpg,cyl,disp,hp,gear
21,6,160,110,4
21,6,160,110,4
22.8,4,108,93,4
21.4,6,258,110,3
18.7,8,360,175,3
18.1,6,225,105,3
14.3,8,360,245,3
24.4,4,146.7,62,4
22.8,4,140.8,95,4
19.2,6,167.6,123,4
17.8,6,167.6,123,4
16.4,8,275.8,180,3
17.3,8,275.8,180,3
15.2,8,275.8,180,3
10.4,8,472,205,3
10.4,8,460,215,3
14.7,8,440,230,3
32.4,4,78.7,66,4
30.4,4,75.7,52,4
33.9,4,71.1,65,4
21.5,4,120.1,97,3
15.5,8,318,150,3
15.2,8,304,150,3
13.3,8,350,245,3
19.2,8,400,175,3
27.3,4,79,66,4
26,4,120.3,91,5
30.4,4,95.1,113,5
15.8,8,351,264,5
19.7,6,145,175,5
15,8,301,335,5
21.4,4,121,109,4
"""


def _read(text: str) -> tuple[list[str], np.ndarray]:
    lines = text.strip().splitlines()
    header = lines[0].split(",")
    data = np.loadtxt(io.StringIO("\n".join(lines[1:])), delimiter=",")
    return header, data


def test_lmg_swiss_matches_r() -> None:
    """R: lm(Fertility ~ ., swiss); LMG by brute force (REFERENCES 5a); R² = 0.706735001593."""
    header, data = _read(SWISS_CSV)
    expected = {
        "Agriculture": 0.05709122077,
        "Examination": 0.17117302890,
        "Education": 0.26013467862,
        "Catholic": 0.10557015037,
        "Infant.Mortality": 0.11276592293,
    }
    got = lmg(data[:, 1:], data[:, 0], header[1:])
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-8), name
    assert sum(got.values()) == pytest.approx(0.706735001593, abs=1e-10)


def test_lmg_mtcars_matches_r() -> None:
    """R: lm(mpg ~ cyl + disp + hp + gear, mtcars); LMG by brute force (REFERENCES 5b); R² = 0.779189638983."""
    header, data = _read(MTCARS_CSV)
    expected = {"cyl": 0.2470520332352, "disp": 0.2434995947956, "hp": 0.2109128995443, "gear": 0.0777251114079}
    got = lmg(data[:, 1:], data[:, 0], header[1:])
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-8), name
    assert sum(got.values()) == pytest.approx(0.779189638983, abs=1e-10)


def test_shapley_array_values_and_efficiency() -> None:
    """A value function returning arrays (one per bootstrap draw) gets per-draw Shapley values that add up."""
    weights = np.array([[1.0, 2.0], [0.5, 0.0], [3.0, 1.0]])

    def value(s: frozenset[int]) -> np.ndarray:
        # interaction between players 0 and 1 is split equally between them
        base = sum((weights[i] for i in s), np.zeros(2))
        return base + (np.array([1.0, 1.0]) if {0, 1} <= s else 0.0)

    phi = shapley_values([0, 1, 2], value)
    np.testing.assert_allclose(phi[0], [1.5, 2.5])
    np.testing.assert_allclose(phi[1], [1.0, 0.5])
    np.testing.assert_allclose(phi[2], [3.0, 1.0])
    np.testing.assert_allclose(sum(phi.values()), value(frozenset({0, 1, 2})) - value(frozenset()))


def test_shapley_edge_cases() -> None:
    assert shapley_values([], lambda s: 0.0) == {}
    with pytest.raises(ValueError):
        shapley_values(["a", "a"], lambda s: 0.0)
