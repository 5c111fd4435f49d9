"""The calibration's summary statistics (calibration/summary.py) equal an independent recomputation with
pandas from one run's tables, written from the definitions in TARGETS.md, not from the code: T1 cells,
ONS-group Theil indices and regional correlations in 1998 and 2016, TIR shares, LQ margins and the
decline-then-rise count."""

import numpy as np
import pandas as pd
import pytest

from calibration.summary import GROUP_KEY, U_TROUGH_PERIODS, decline_then_rise, per_seed_statistics
from sim import datasets
from sim import metrics as M
from sim import observed as obs
from sim.report import LQ_RULES, lq_margin
from sim.runner import simulate

REGIONS = datasets.load_regions()["code"].tolist()
TIR = set(M.tir_regions())


@pytest.fixture(scope="module")
def run():
    res = simulate(params={"n_plants_start": 1500}, seed=0)
    panel = res.panel.copy()
    panel["region"] = panel["region"].astype(str)
    panel["sector"] = panel["sector"].astype(str)
    panel["group"] = panel["sector"].map(obs.sector_to_ons())
    return res, panel, per_seed_statistics(res).iloc[0]


def _theil(output: pd.Series, year: int) -> float:
    """Theil index of regional output shares against total-GVA shares (the nearest year with GVA data)."""
    from importlib.resources import files

    with files("sim.data").joinpath("gva_total.csv").open("r", encoding="utf-8") as fh:
        gva = pd.read_csv(fh)
    ref = gva.pivot(index="code", columns="year", values="gva_total_gbp_m").reindex(REGIONS)
    ref = ref[min(max(year, int(ref.columns.min())), int(ref.columns.max()))]
    s = output.reindex(REGIONS).fillna(0.0)
    s, a = s / s.sum(), ref / ref.sum()
    m = s > 0
    return float((s[m] * np.log(s[m] / a[m])).sum())


def test_t1_cells_are_the_shares_of_the_output_change_by_region_type_plant_fate_and_ownership(run):
    res, _, st = run
    pl = res.plants
    still_open = pl["exit_year"].isna()
    throughout = pl["open_at_start"] & still_open
    change = np.where(throughout, pl["output_end"] - pl["output_start"],
                      np.where(pl["open_at_start"], -pl["output_start"], np.where(still_open, pl["output_end"], 0.0)))
    cells = pd.DataFrame({"rt": np.where(pl["region"].astype(str).isin(TIR), "tir", "nontir"),
                          "fate": np.where(throughout, "open_throughout", "openings_closures"),
                          "own": pl["ownership_last"].astype(str).str.lower(), "change": change})
    by = cells.groupby(["rt", "fate", "own"])["change"].sum()
    assert len(by) == 8
    for (rt, fate, own), v in by.items():
        assert st[f"t1_{rt}_{fate}_{own}"] == pytest.approx(100 * v / by.sum(), abs=1e-9)
    assert st["t1_total_change_gbp_m"] == pytest.approx(by.sum(), rel=1e-9)


def test_group_theil_and_regional_correlations_in_1998_and_2016(run):
    _, panel, st = run
    out = panel.groupby(["group", "year", "region"])["output"].sum()
    observed = obs.observed_gva_panel()
    for group, key in GROUP_KEY.items():
        for year in (1998, 2016):
            assert st[f"t2_theil_{key}_{year}"] == pytest.approx(_theil(out[(group, year)], year), abs=1e-9)
            o = observed[(observed["industry"] == group) & (observed["year"] == year)].set_index("region")["value"]
            s = out[(group, year)].reindex(REGIONS).fillna(0.0)
            r = np.corrcoef(s / s.sum(), o.reindex(REGIONS) / o.sum())[0, 1]
            assert st[f"t5_corr_{key}_{year}"] == pytest.approx(r, abs=1e-9)
        assert st[f"t2_theil_change_{key}"] == pytest.approx(st[f"t2_theil_{key}_2016"] - st[f"t2_theil_{key}_1998"])


def test_tir_shares_and_lq_margins(run):
    _, panel, st = run
    total = panel.groupby(["year", "region"])["output"].sum()
    for year in (1998, 2016):
        a = total[year]
        assert st[f"t3_tir_share_{year}"] == pytest.approx(a[a.index.isin(TIR)].sum() / a.sum(), abs=1e-12)
    by_sector = panel.groupby(["sector", "year", "region"])["output"].sum()
    in_tir = pd.Index(REGIONS).isin(list(TIR))

    def lq_means(sector, year):
        x = by_sector[(sector, year)].reindex(REGIONS).fillna(0.0)
        am = total[year].reindex(REGIONS).fillna(0.0)
        lq = (x / x.sum()) / (am / am.sum())
        return lq[in_tir].mean(), lq[~in_tir].mean()

    for sector, rule in LQ_RULES.items():  # 1995 to 2015, as the source's LQ facts
        (t0, n0), (t1, n1) = lq_means(sector, 1995), lq_means(sector, 2015)
        assert st[f"t3_lq_margin_{sector}"] == pytest.approx(float(lq_margin(rule, t0, t1, n0, n1)), abs=1e-9)


def test_decline_then_rise_counts_sectors_whose_5_year_low_is_around_2000(run):
    _, panel, st = run
    by_sector = panel.groupby(["sector", "year", "region"])["output"].sum()
    count = 0
    for sector in sorted(panel["sector"].unique()):
        yearly = pd.Series({y: _theil(by_sector[(sector, y)], y) for y in range(1973, 2017)})
        five = yearly.groupby((yearly.index - 1973) // 5 * 5 + 1973).mean()
        low_at = five.idxmin()
        count += bool(U_TROUGH_PERIODS[0] <= low_at <= U_TROUGH_PERIODS[1]
                      and five.min() < five.iloc[0] and five.min() < five.iloc[-1])
    assert st["t2_u_shape_count"] == count


@pytest.mark.parametrize("series, counts", [
    ([5, 4, 3, 2, 1, 2, 3, 4, 5], True),              # falls until 1993-97, rises since
    ([5, 1, 2, 3, 4, 5, 6, 7, 8], False),             # bottoms out in 1978-82 and rises for 35 years
    ([5, 4, 3, 2, 1, 0.5, 0.4, 0.3, 0.2], False),     # still falling at the end
    ([5, 4, 3, 2, np.nan, 1, 2, 3, 4], True),         # a missing period is left out
    ([1, 2, 3, 4, 0.5, 6, 7, 8, 0.4], False),         # lowest at the end
    ([np.nan] * 9, False),
])
def test_decline_then_rise_on_hand_worked_series(series, counts):
    periods = list(range(1973, 2014, 5))
    assert decline_then_rise(np.array([series], float), periods, (1988, 2003)).tolist() == [counts]
