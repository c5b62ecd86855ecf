"""Training metrics computed with numpy, equal to scikit-learn's functions on the same inputs.

scikit-learn's metric functions validate their inputs at length (tens of milliseconds each on
a small machine); after a fit the inputs are known to be well formed, so the common cases are
computed here directly: weighted precision/recall/F1 and accuracy, log loss, binary ROC AUC,
and the regression errors. Anything else (binary `pos_label`, multilabel, multiclass AUC) goes
to scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def classification(
    y: Any, y_pred: Any, proba: Any, classes: Any, weight: Any
) -> dict[str, float] | None:
    """accuracy, weighted precision/recall/F1, log loss and ROC AUC; None when the
    targets are not a plain 1-D label vector."""
    y = np.asarray(y)
    y_pred = np.asarray(y_pred)
    if y.ndim != 1 or y_pred.shape != y.shape or y.dtype == object:
        return None
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    labels = np.union1d(y, y_pred)
    yi = np.searchsorted(labels, y)
    pi = np.searchsorted(labels, y_pred)
    k = len(labels)
    tp = np.bincount(yi[yi == pi], weights=w[yi == pi], minlength=k)
    true_sum = np.bincount(yi, weights=w, minlength=k)
    pred_sum = np.bincount(pi, weights=w, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred_sum > 0, tp / pred_sum, 0.0)
        recall = np.where(true_sum > 0, tp / true_sum, 0.0)
        denom = pred_sum + true_sum
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
    support = true_sum.sum()
    out = {
        "precision_score": float(np.dot(precision, true_sum) / support),
        "recall_score": float(np.dot(recall, true_sum) / support),
        "f1_score": float(np.dot(f1, true_sum) / support),
        "accuracy_score": float(tp.sum() / w.sum()),
    }
    if proba is not None and classes is not None:
        out.update(_probabilistic(y, np.asarray(proba, dtype=float), np.asarray(classes), w))
    return out


def _probabilistic(y: Any, proba: Any, classes: Any, w: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    if proba.ndim != 2 or proba.shape[1] != len(classes) or not np.isin(y, classes).all():
        return out
    idx = np.searchsorted(classes, y) if np.all(classes[:-1] <= classes[1:]) else None
    if idx is None:
        return out
    p = proba / proba.sum(axis=1, keepdims=True)
    eps = np.finfo(p.dtype).eps
    p = np.clip(p, eps, 1 - eps)
    out["log_loss"] = float(-np.average(np.log(p[np.arange(len(y)), idx]), weights=w))
    if len(classes) == 2 and len(np.unique(y)) == 2:
        out["roc_auc"] = _binary_auc(idx == 1, proba[:, 1], w)
    elif len(classes) > 2:
        from sklearn.metrics import roc_auc_score

        try:
            out["roc_auc"] = float(
                roc_auc_score(y, proba, average="weighted", multi_class="ovo", labels=classes,
                              sample_weight=None if np.all(w == 1) else w)
            )  # fmt: skip
        except ValueError:
            pass  # not defined (a class absent from y)
    return out


def _binary_auc(positive: Any, score: Any, w: Any) -> float:
    """Area under the ROC curve by the trapezoid rule over distinct thresholds (sklearn's)."""
    order = np.argsort(-score, kind="mergesort")
    score, positive, w = score[order], positive[order], w[order]
    distinct = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tps = np.cumsum(w * positive)[distinct]
    fps = np.cumsum(w * ~positive)[distinct]
    tpr = np.r_[0.0, tps] / tps[-1]
    fpr = np.r_[0.0, fps] / fps[-1]
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # type: ignore[attr-defined]
    return float(trapezoid(tpr, fpr))


def regression(y: Any, y_pred: Any, weight: Any) -> dict[str, float] | None:
    """MSE, RMSE, MAE and R² averaged uniformly over outputs."""
    y = np.asarray(y, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y.shape != y_pred.shape or y.ndim > 2 or len(y) < 2:
        return None
    if y.ndim == 1:
        y, y_pred = y[:, None], y_pred[:, None]
    w = None if weight is None else np.asarray(weight, dtype=float)
    err = y - y_pred
    mse = np.average(err**2, axis=0, weights=w)
    mae = np.average(np.abs(err), axis=0, weights=w)
    mean = np.average(y, axis=0, weights=w)
    ww = np.ones(len(y)) if w is None else w
    ss_res = (ww[:, None] * err**2).sum(axis=0)
    ss_tot = (ww[:, None] * (y - mean) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot != 0, 1 - ss_res / ss_tot, np.where(ss_res == 0, 1.0, 0.0))
    return {
        "mean_squared_error": float(mse.mean()),
        "root_mean_squared_error": float(np.sqrt(mse).mean()),
        "mean_absolute_error": float(mae.mean()),
        "r2_score": float(r2.mean()),
    }
