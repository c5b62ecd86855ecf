"""Run and experiment search compiled to SQL: which rows come back, in which order, on SQLite
and PostgreSQL, with the rows written straight into the tables."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine, create_engine, event, insert, inspect

from notebook_tracker.errors import FilterSyntaxError
from notebook_tracker.store.schema import (
    experiment_tags,
    experiments,
    latest_metrics,
    metadata,
    params,
    runs,
    tags,
)
from notebook_tracker.store.sql_search import (
    build_experiment_search,
    build_run_search,
    like_to_glob,
)

NAN = math.nan

# run id: (experiment, name, status, start, end, user, stage, metrics, params, tags)
RUNS = {
    "r1": (
        1,
        "alpha",
        "FINISHED",
        1000,
        2000,
        "ann",
        "active",
        {"loss": 0.5, "acc": 0.9},
        {"lr": "0.1", "model": "cnn"},
        {"team": "ml", "note x": "hello world"},
    ),
    "r2": (
        1,
        "Beta",
        "RUNNING",
        3000,
        None,
        "bob",
        "active",
        {"loss": NAN, "acc": 0.7},
        {"lr": "0.01", "model": "CNN"},
        {"team": "ML"},
    ),
    "r3": (
        1,
        "gamma_1",
        "FAILED",
        2000,
        2500,
        "ann",
        "active",
        {"loss": 0.2},
        {"lr": "0.1", "model": "rnn%"},
        {},
    ),
    "r6": (
        1,
        "zeta",
        "FINISHED",
        2000,
        2600,
        None,
        "active",
        {"loss": -1.0, "acc": 0.0},
        {"model": "a*b?[c]"},
        {"team": "ops"},
    ),
    "r4": (
        1,
        "delta",
        "FINISHED",
        2000,
        2100,
        "cat",
        "deleted",
        {"loss": 0.1},
        {"model": "cnn"},
        {},
    ),
    "r5": (2, "alpha", "FINISHED", 500, 900, "ann", "active", {"loss": 0.3}, {}, {}),
}

# experiment id: (name, stage, creation_time, last_update_time, tags)
EXPERIMENTS = {
    1: ("exp-a", "active", 100, 150, {"team": "ml"}),
    2: ("Exp-B", "active", 200, 120, {"team": "ML", "owner": "ann"}),
    3: ("other", "deleted", 300, 300, {}),
    4: ("exp-c", "active", 200, None, {}),
}


def _fill(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(experiments),
            [
                {
                    "experiment_id": eid,
                    "name": name,
                    "artifact_location": f"/a/{eid}",
                    "lifecycle_stage": stage,
                    "creation_time": created,
                    "last_update_time": updated,
                }
                for eid, (name, stage, created, updated, _) in EXPERIMENTS.items()
            ],
        )
        conn.execute(
            insert(experiment_tags),
            [
                {"experiment_id": eid, "key": k, "value": v}
                for eid, exp in EXPERIMENTS.items()
                for k, v in exp[4].items()
            ],
        )
        for run_id, (exp, name, status, start, end, user, stage, mets, pars, tgs) in RUNS.items():
            conn.execute(
                insert(runs).values(
                    run_uuid=run_id,
                    experiment_id=exp,
                    name=name,
                    status=status,
                    start_time=start,
                    end_time=end,
                    user_id=user,
                    lifecycle_stage=stage,
                    artifact_uri=f"s3://bucket/{exp}/{run_id}/artifacts",
                )
            )
            for key, value in mets.items():
                nan = math.isnan(value)
                conn.execute(
                    insert(latest_metrics).values(
                        run_uuid=run_id,
                        key=key,
                        step=3,
                        timestamp=start,
                        value=0.0 if nan else value,
                        is_nan=nan,
                    )
                )
            for key, value in pars.items():
                conn.execute(insert(params).values(run_uuid=run_id, key=key, value=value))
            for key, value in tgs.items():
                conn.execute(insert(tags).values(run_uuid=run_id, key=key, value=value))


@pytest.fixture
def engine(store_uri: str) -> Iterator[Engine]:
    if store_uri.startswith("postgresql://"):
        store_uri = "postgresql+psycopg2://" + store_uri.split("://", 1)[1]
    eng = create_engine(store_uri)
    _fill(eng)
    yield eng
    eng.dispose()


class Searcher:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def runs(
        self,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        experiment_ids: Sequence[str] = ("1",),
        stages: Sequence[str] = ("active",),
        offset: int = 0,
        limit: int = 100,
    ) -> list[str]:
        query = build_run_search(experiment_ids, stages, filter_string, order_by, offset, limit)
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    def matching(self, filter_string: str, **kw) -> set[str]:
        return set(self.runs(filter_string, **kw))

    def experiments(
        self,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        stages: Sequence[str] = ("active",),
        offset: int = 0,
        limit: int = 100,
    ) -> list[int]:
        query = build_experiment_search(stages, filter_string, order_by, offset, limit)
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]


@pytest.fixture
def s(engine: Engine) -> Searcher:
    return Searcher(engine)


# -- metrics ----------------------------------------------------------------------------------


def test_metric_comparators_compare_the_latest_value(s):
    assert s.matching("metrics.loss > 0.2") == {"r1"}
    assert s.matching("metrics.loss >= 0.2") == {"r1", "r3"}
    assert s.matching("metrics.loss = 0.5") == {"r1"}
    assert s.matching("metrics.loss < 0.5") == {"r3", "r6"}
    assert s.matching("metrics.loss <= 0.5") == {"r1", "r3", "r6"}
    assert s.matching("metrics.loss != 0.5") == {"r2", "r3", "r6"}


def test_a_run_without_the_metric_never_matches(s):
    assert s.matching("metrics.acc < 100") == {"r1", "r2", "r6"}
    assert s.matching("metrics.acc != 0.9") == {"r2", "r6"}
    assert s.matching("metrics.nowhere != 1") == set()


def test_nan_matches_only_not_equal(s):
    # r2's loss is NaN, stored as value 0: it must not pass for a zero.
    assert s.matching("metrics.loss = 0") == set()
    assert s.matching("metrics.loss >= -1e999") == {"r1", "r3", "r6"}
    assert s.matching("metrics.loss <= 1e999") == {"r1", "r3", "r6"}
    assert "r2" in s.matching("metrics.loss != 0")


def test_metric_keys_are_case_sensitive(s):
    assert s.matching("metrics.LOSS > -10") == set()


# -- params and tags --------------------------------------------------------------------------


def test_params_and_tags_compare_as_exact_strings(s):
    assert s.matching("params.lr = '0.1'") == {"r1", "r3"}
    assert s.matching("params.lr = '0.10'") == set()
    assert s.matching("params.lr != '0.1'") == {"r2"}
    assert s.matching("params.model = 'cnn'") == {"r1"}
    assert s.matching("tags.team = 'ml'") == {"r1"}
    assert s.matching("tags.team != 'ml'") == {"r2", "r6"}


def test_like_is_case_sensitive_and_ilike_is_not(s):
    assert s.matching("params.model LIKE 'c%'") == {"r1"}
    assert s.matching("params.model LIKE '%N%'") == {"r2"}
    assert s.matching("params.model ILIKE 'c%'") == {"r1", "r2"}
    assert s.matching("params.model ILIKE 'CnN'") == {"r1", "r2"}
    assert s.matching("tags.team ILIKE 'ML'") == {"r1", "r2"}


def test_like_wildcards_and_backslash_escapes(s):
    assert s.matching("params.model LIKE 'c_n'") == {"r1"}
    assert s.matching("params.model LIKE '_nn%'") == {"r1", "r3"}
    assert s.matching("params.model LIKE 'rnn\\%'") == {"r3"}
    assert s.matching("params.model LIKE 'cnn\\%'") == set()
    assert s.matching("params.model LIKE '%\\_%'") == set()
    assert s.matching("params.model LIKE 'rnn%%'") == {"r3"}


def test_glob_and_regex_characters_in_patterns_are_plain_characters(s):
    assert s.matching("params.model LIKE 'a*b?[c]'") == {"r6"}
    assert s.matching("params.model LIKE 'a*%'") == {"r6"}
    assert s.matching("params.model LIKE 'a?b%'") == set()
    assert s.matching("params.model LIKE 'a_b_[c]'") == {"r6"}
    assert s.matching("params.model ILIKE 'A*B?[C]'") == {"r6"}
    assert s.matching("params.model LIKE '[a]%'") == set()


def test_is_null_means_the_key_is_absent(s):
    assert s.matching("tags.team IS NULL") == {"r3"}
    assert s.matching("tags.team IS NOT NULL") == {"r1", "r2", "r6"}
    assert s.matching("params.lr IS NULL") == {"r6"}
    assert s.matching("params.lr IS NOT NULL") == {"r1", "r2", "r3"}


def test_quoted_keys_with_spaces_match(s):
    assert s.matching("tags.`note x` = 'hello world'") == {"r1"}
    assert s.matching("tags.\"note x\" LIKE 'hello%'") == {"r1"}


# -- attributes -------------------------------------------------------------------------------


def test_string_attributes(s):
    assert s.matching("run_name = 'alpha'") == {"r1"}
    assert s.matching("attributes.run_name != 'alpha'") == {"r2", "r3", "r6"}
    assert s.matching("\"run name\" ILIKE 'beta'") == {"r2"}
    assert s.matching("run_name LIKE 'gamma\\_%'") == {"r3"}
    assert s.matching("status IN ('FINISHED', 'FAILED')") == {"r1", "r3", "r6"}
    assert s.matching("status NOT IN ('FINISHED', 'FAILED')") == {"r2"}
    assert s.matching("attributes.run_id IN ('r1', 'r2', 'r5')") == {"r1", "r2"}
    assert s.matching("run_id = 'r3'") == {"r3"}
    assert s.matching("user_id = 'ann'") == {"r1", "r3"}
    assert s.matching("artifact_uri LIKE 's3://bucket/1/r1/%'") == {"r1"}


def test_numeric_attributes(s):
    assert s.matching("start_time >= 2000") == {"r2", "r3", "r6"}
    assert s.matching("created < 2000") == {"r1"}
    assert s.matching("attributes.start_time = 2000") == {"r3", "r6"}
    assert s.matching("end_time > 2000") == {"r3", "r6"}  # r2 is still running
    assert s.matching("end_time != 2000") == {"r3", "r6"}
    assert s.matching("start_time > 1.5e3") == {"r2", "r3", "r6"}


def test_clauses_must_all_hold(s):
    assert s.matching(
        "metrics.loss < 1 AND params.lr = '0.1' AND status = 'FAILED' AND tags.team IS NULL"
    ) == {"r3"}
    assert s.matching("metrics.loss > 0.3 AND metrics.loss < 0.3") == set()


def test_experiments_and_lifecycle_stages_scope_the_search(s):
    assert s.matching("run_name = 'alpha'", experiment_ids=["1", "2"]) == {"r1", "r5"}
    assert set(s.runs(stages=["deleted"])) == {"r4"}
    assert set(s.runs(stages=["active", "deleted"])) == {"r1", "r2", "r3", "r4", "r6"}
    assert s.runs(experiment_ids=[]) == []
    assert s.runs(experiment_ids=["not-a-number"]) == []


# -- ordering ---------------------------------------------------------------------------------


def test_default_order_is_newest_first_then_run_id(s):
    assert s.runs() == ["r2", "r3", "r6", "r1"]


def test_ordering_by_a_metric_puts_nan_after_numbers_and_missing_last(s):
    assert s.runs(order_by=["metrics.loss"]) == ["r6", "r3", "r1", "r2"]
    assert s.runs(order_by=["metrics.loss DESC"]) == ["r1", "r3", "r6", "r2"]
    assert s.runs(order_by=["metrics.acc ASC"]) == ["r6", "r2", "r1", "r3"]
    assert s.runs(order_by=["metrics.acc DESC"]) == ["r1", "r2", "r6", "r3"]


def test_ordering_by_params_and_tags_puts_missing_last_and_compares_code_points(s):
    assert s.runs(order_by=["params.model"]) == ["r2", "r6", "r1", "r3"]
    assert s.runs(order_by=["params.model DESC"]) == ["r3", "r1", "r6", "r2"]
    assert s.runs(order_by=["params.lr DESC"]) == ["r3", "r1", "r2", "r6"]
    assert s.runs(order_by=["tags.team"]) == ["r2", "r1", "r6", "r3"]


def test_ordering_by_attributes_puts_nulls_last(s):
    assert s.runs(order_by=["end_time"]) == ["r1", "r3", "r6", "r2"]
    assert s.runs(order_by=["end_time DESC"]) == ["r6", "r3", "r1", "r2"]
    assert s.runs(order_by=["user_id DESC"]) == ["r2", "r3", "r1", "r6"]
    assert s.runs(order_by=["attributes.run_name"]) == ["r2", "r1", "r3", "r6"]


def test_ties_break_on_start_time_then_run_id(s):
    assert s.runs(order_by=["params.lr"]) == ["r2", "r3", "r1", "r6"]
    assert s.runs(order_by=["start_time"]) == ["r1", "r3", "r6", "r2"]
    assert s.runs(order_by=["run_id DESC"]) == ["r6", "r3", "r2", "r1"]


def test_several_order_terms_apply_in_turn(s):
    assert s.runs(order_by=["user_id", "metrics.loss DESC"]) == ["r1", "r3", "r2", "r6"]


def test_filtering_and_ordering_by_the_same_metric(s):
    assert s.runs("metrics.loss != 0.5", ["metrics.loss DESC"]) == ["r3", "r6", "r2"]


def test_pages_concatenate_to_the_whole_ordered_result(s):
    for order_by in (None, ["metrics.loss"], ["params.lr DESC"], ["end_time"]):
        whole = s.runs(order_by=order_by)
        pages = [s.runs(order_by=order_by, offset=o, limit=2) for o in range(0, 6, 2)]
        assert sum(pages, []) == whole


# -- safety -----------------------------------------------------------------------------------


def test_values_never_become_sql(s, engine):
    evil = "x'; DROP TABLE runs; --"
    assert s.matching(f'params.model = "{evil}"') == set()
    assert s.matching(f'tags.`{evil}` LIKE "{evil}"') == set()
    assert s.matching(f'run_id IN ("{evil}")') == set()
    assert "runs" in inspect(engine).get_table_names()
    query = build_run_search(["1"], ["active"], f'params.model = "{evil}"', None, 0, 10)
    assert "DROP" not in str(query.compile(engine))


def test_a_reused_statement_shape_binds_each_searchs_own_values(s):
    # The compiled form of a statement is cached by its shape: values must not stick to it.
    assert s.matching("params.model LIKE 'c%'") == {"r1"}
    assert s.matching("params.model LIKE 'C%'") == {"r2"}
    assert s.matching("params.model ILIKE 'r%'") == {"r3"}
    assert s.matching("params.model ILIKE 'c%'") == {"r1", "r2"}


def test_a_bad_filter_raises_filter_syntax_error(s):
    with pytest.raises(FilterSyntaxError, match="expected a quoted string"):
        s.runs("params.lr = 0.1")
    with pytest.raises(FilterSyntaxError, match="DESCENDING"):
        s.runs(order_by=["metrics.loss DESCENDING"])


def test_sqlite_like_stays_case_sensitive_whatever_the_pragma(tmp_path):
    eng = create_engine(f"sqlite:///{tmp_path / 'pragma.db'}")

    @event.listens_for(eng, "connect")
    def _case_sensitive_like(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA case_sensitive_like = ON")

    _fill(eng)
    s = Searcher(eng)
    assert s.matching("params.model ILIKE 'c%'") == {"r1", "r2"}
    assert s.matching("params.model LIKE 'c%'") == {"r1"}
    eng.dispose()


def test_sqlite_search_reads_indexes_not_whole_tables(tmp_path):
    eng = create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    _fill(eng)
    query = build_run_search(
        ["1"],
        ["active"],
        "metrics.loss > 0.1 AND params.lr = '0.1' AND tags.team LIKE 'm%'",
        ["metrics.acc DESC", "params.model"],
        0,
        100,
    )
    executed = []

    @event.listens_for(eng, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):
        executed.append((statement, parameters))

    with eng.connect() as conn:
        conn.execute(query).all()
        statement, parameters = executed[-1]
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = [row[3] for row in rows]
    assert not [step for step in plan if step.startswith("SCAN")], plan
    eng.dispose()


def test_glob_translation_keeps_like_meaning():
    assert like_to_glob("a%b_c") == "a*b?c"
    assert like_to_glob("*?[") == "[*][?][[]"
    assert like_to_glob("100\\%") == "100%"
    assert like_to_glob("a\\_b\\\\") == "a_b\\"
    assert like_to_glob("end\\") == "end\\"


# -- experiments ------------------------------------------------------------------------------


def test_experiment_search_defaults_to_newest_first_then_id(s):
    assert s.experiments() == [2, 4, 1]
    assert s.experiments(stages=["active", "deleted"]) == [3, 2, 4, 1]
    assert s.experiments(stages=["deleted"]) == [3]


def test_experiment_filters(s):
    assert s.experiments("name LIKE 'exp-%'") == [4, 1]
    assert s.experiments("name ILIKE 'exp-%'") == [2, 4, 1]
    assert s.experiments("name = 'Exp-B'") == [2]
    assert s.experiments("name != 'Exp-B'") == [4, 1]
    assert s.experiments("tags.team = 'ml'") == [1]
    assert s.experiments("tags.team ILIKE 'ml'") == [2, 1]
    assert s.experiments("tags.team IS NULL") == [4]
    assert s.experiments("tags.owner IS NOT NULL") == [2]
    assert s.experiments("creation_time >= 200") == [2, 4]
    assert s.experiments("last_update_time < 150") == [2]
    assert s.experiments("experiment_id IN ('1', '4', 'x')") == [4, 1]
    assert s.experiments("experiment_id NOT IN ('1')") == [2, 4]
    assert s.experiments("experiment_id = '2'") == [2]
    assert s.experiments("experiment_id = 'x'") == []
    assert s.experiments("experiment_id != 'x'") == [2, 4, 1]


def test_experiment_ordering(s):
    assert s.experiments(order_by=["name"]) == [2, 1, 4]
    assert s.experiments(order_by=["name DESC"]) == [4, 1, 2]
    assert s.experiments(order_by=["last_update_time"]) == [2, 1, 4]
    assert s.experiments(order_by=["last_update_time DESC"]) == [1, 2, 4]
    assert s.experiments(order_by=["creation_time"]) == [1, 2, 4]
    assert s.experiments(order_by=["experiment_id DESC"]) == [4, 2, 1]
    assert s.experiments(order_by=["creation_time"], offset=1, limit=1) == [2]
