"""Window sums at twelve monthly cutoffs, two ways, in DuckDB on validated transactions.

- **join** (what features/ does): each purchase joined to the active customers' cutoffs it
  lies in the year before, then grouped by (customer, cutoff) with filtered sums;
- **as-of**: purchases and probe rows (each customer at each window's edge) in one table,
  a running sum per customer in time order, the window's sum read as the difference of the
  running sums at its two edges: no purchase is repeated per cutoff.

Both compute the same counts and sums (asserted, to 1e-6 on sums) for the customers who
bought in the 30 days before each cutoff. Run on validated data, e.g. the 1M-customer files
`make bench-featurize` generates:

    python benchmarks/asof_vs_join.py /tmp/validated/transactions.parquet
"""

from __future__ import annotations

import argparse
import time

import duckdb
import numpy as np

WINDOWS = (30, 60, 90, 180, 365)
VALUES = {"n": "1", "spend": "amount", "discount": "discount", "returns": "is_return::int"}
CUTOFFS = "generate_series(timestamp '2025-07-01', timestamp '2026-06-01', interval 1 month)"


def join_sql() -> str:
    sums = ", ".join(
        f"sum({value}) filter (where t.timestamp >= k.cutoff - interval {w} day) as {name}_{w}"
        for w in WINDOWS
        for name, value in VALUES.items()
    )
    return f"""
        select k.customer_id, k.cutoff, {sums}
        from keys k join tx t on t.customer_id = k.customer_id
          and t.timestamp < k.cutoff and t.timestamp >= k.cutoff - interval {max(WINDOWS)} day
        group by all"""


def asof_sql() -> str:
    values = ", ".join(f"{value} as {name}" for name, value in VALUES.items())
    zeros = ", ".join(f"0 as {name}" for name in VALUES)
    running = ", ".join(f"sum({name}) over by_time as {name}" for name in VALUES)
    probes = " union all ".join(
        f"select customer_id, cutoff - interval {w} day as at_time, cutoff, {w} as edge, {zeros} "
        "from keys"
        for w in (0, *WINDOWS)
    )
    sums = ", ".join(
        f"max({name}) filter (where edge = 0) - max({name}) filter (where edge = {w}) as {name}_{w}"
        for w in WINDOWS
        for name in VALUES
    )
    # Probes sort before purchases at the same instant: a window holds [start, cutoff).
    return f"""
        with span as (select min(cutoff) - interval {max(WINDOWS)} day as first,
                             max(cutoff) as last from keys),
        rows as (
            select customer_id, timestamp as at_time, null::timestamp as cutoff,
                   null::int as edge, {values}
            from tx, span where timestamp >= span.first and timestamp < span.last
            union all {probes}),
        running as (
            select customer_id, cutoff, edge, {running} from rows
            window by_time as (partition by customer_id
                               order by at_time, edge is null rows unbounded preceding))
        select customer_id, cutoff, {sums} from running where edge is not null group by all"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transactions", help="a validated transactions.parquet")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    con = duckdb.connect()
    con.sql(f"create view tx as select * from read_parquet('{args.transactions}')")
    con.sql(f"""create temp table keys as
        select distinct customer_id, c::timestamp as cutoff
        from tx, (select unnest({CUTOFFS}) as c)
        where timestamp < c and timestamp >= c - interval 30 day""")
    ((rows,),) = con.sql("select count(*) from keys").fetchall()
    print(f"{rows:,} (customer, cutoff) rows, {len(WINDOWS) * len(VALUES)} window sums")
    results = {}
    for name, sql in [("join", join_sql()), ("as-of", asof_sql())] * args.repeats:
        started = time.perf_counter()
        results[name] = con.sql(sql).df().sort_values(["customer_id", "cutoff"])
        print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)
    join, asof = (results[name].reset_index(drop=True) for name in ("join", "as-of"))
    for column in join.columns[2:]:
        expected = join[column].fillna(0).astype(float).to_numpy()
        np.testing.assert_allclose(asof[column].astype(float).to_numpy(), expected, atol=1e-6)
    print("same sums")


if __name__ == "__main__":
    main()
