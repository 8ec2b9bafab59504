"""Minimum detectable effect (MDE) of a paired comparison at the observed discordance.

Connor (1987, Biometrics 43:207-211) gives the normal-approximation sample size for
McNemar's test with discordant proportion ``psi = (b + c)/n`` and difference ``d``
(``= |b - c|/n`` in the population)::

    sqrt(n) * d = z_{1-alpha/2} * sqrt(psi) + z_{power} * sqrt(psi - d^2)

Holding ``n`` and ``psi`` at their observed values and solving this quadratic in ``d``
for the root with ``sqrt(n) d >= z_{1-alpha/2} sqrt(psi)`` gives the closed form::

    d = sqrt(psi) * (z_a sqrt(n) + z_b sqrt(n + z_b^2 - z_a^2)) / (n + z_b^2)

with ``z_a = z_{1-alpha/2}``, ``z_b = z_{power}``. A true difference of this size would be
declared significant with probability ``power``; smaller true differences may well be
missed, so a non-significant result says little about effects below the MDE.

The MDE cannot exceed ``psi`` (``|b - c| <= b + c``). When the formula gives more than
``psi`` -- or ``psi = 0`` or ``n + z_b^2 < z_a^2`` -- no difference is detectable at this
discordance and we return ``nan``.
"""

from __future__ import annotations

import math

from scipy import stats

__all__ = ["connor_power", "minimum_detectable_effect"]


def minimum_detectable_effect(b: int, c: int, n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest ``|p_A - p_B|`` detectable with ``power`` at two-sided ``alpha`` (see module doc)."""
    if n <= 0 or b < 0 or c < 0 or b + c > n:
        raise ValueError(f"invalid counts b={b}, c={c}, n={n}")
    psi = (b + c) / n
    if psi == 0.0:
        return math.nan
    za = float(stats.norm.isf(alpha / 2.0))
    zb = float(stats.norm.ppf(power))
    inner = n + zb * zb - za * za
    if inner < 0:
        return math.nan
    d = math.sqrt(psi) * (za * math.sqrt(n) + zb * math.sqrt(inner)) / (n + zb * zb)
    return d if d <= psi else math.nan


def connor_power(d: float, psi: float, n: int, alpha: float = 0.05) -> float:
    """Normal-approximation power of McNemar's test for difference ``d`` and discordance ``psi``:
    ``Phi((sqrt(n) |d| - z_{1-alpha/2} sqrt(psi)) / sqrt(psi - d^2))`` (Connor 1987)."""
    za = float(stats.norm.isf(alpha / 2.0))
    return float(stats.norm.cdf((math.sqrt(n) * abs(d) - za * math.sqrt(psi)) / math.sqrt(psi - d * d)))
