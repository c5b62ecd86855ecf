"""GridSearchCV / RandomizedSearchCV: best params and score, the best candidates as child
runs, and the whole `cv_results_` as `cv_results.csv` (MLflow's names)."""

from __future__ import annotations

import numbers
from typing import Any

from notebook_tracker.frameworks import common, sklearn_fit


def log_search(st: Any, run_id: str, search: Any, example: Any) -> None:
    from notebook_tracker.entities import Metric, Param, RunTag

    client = common.client_for(run_id)
    if hasattr(search, "best_score_") and sklearn_fit.finite(search.best_score_):
        common.log_metrics(run_id, {"best_cv_score": float(search.best_score_)})
    if st.option("log_models") and hasattr(search, "best_estimator_"):
        best = search.best_estimator_
        common.log_model(st, run_id, best, "best_estimator", example,
                         sklearn_fit.predict_fn(best),
                         serialization_format=st.option("serialization_format"))  # fmt: skip
    results = getattr(search, "cv_results_", None)
    if not results:
        return
    common.log_table_csv(run_id, results, "cv_results.csv")
    limit = st.option("max_tuning_runs")
    ranks = list(results.get("rank_test_score", range(1, len(results["params"]) + 1)))
    if "rank_test_score" not in results:
        rank_key = next((k for k in results if k.startswith("rank_test_")), None)
        if rank_key:
            ranks = list(results[rank_key])
    order = sorted(range(len(ranks)), key=lambda i: (ranks[i], i))
    if limit is not None:
        order = order[: max(0, int(limit))]
    parent = client.get_run(run_id)
    seed = search.estimator
    base = seed.get_params(deep=not sklearn_fit.is_search(seed))
    tags = {**sklearn_fit.estimator_tags(seed), "mlflow.parentRunId": run_id}
    for i in order:
        child = client.create_run(
            parent.info.experiment_id, start_time=parent.info.start_time, tags=tags,
            parent_run_id=run_id,
        )  # fmt: skip
        cid = child.info.run_id
        params = {**base, **results["params"][i]}
        metrics = {
            k: float(v[i])
            for k, v in results.items()
            if not k.startswith(("param", "split"))
            and isinstance(v[i], numbers.Number)
            and sklearn_fit.finite(v[i])
        }
        now = parent.info.start_time
        client.log_batch(
            cid,
            metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
            params=[Param(k, common.param_text(v)) for k, v in params.items()],
            tags=[RunTag("notebook_tracker.autolog", "sklearn")],
        )
        client.set_terminated(cid)
