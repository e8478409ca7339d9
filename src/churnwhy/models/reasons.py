"""Stated reasons -> (why, what, confidence, method), in layers.

1. reason code, through the taxonomy ([reasons.codes] over the defaults in reason_taxonomy);
2. the English rule layer (reason_rules) on the free text;
3. a learned layer (TF-IDF word 1-2-grams + char 2-5-grams, logistic regression) trained on the rows
   whose label is known from a code or a confident rule, applied to the texts the first two left unknown;
4. otherwise `unknown`: an axis below [reasons] min_confidence is never shown as a fact.

A code that maps to `unknown` on one axis lets the text fill that axis. Bad free text (blank,
numbers only, emoji/symbols, non-English, non-answers like "n/a") is never classified, only counted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.validation import check_is_fitted

from churnwhy.models.reason_rules import INPUT_STATUS, distinct_rows, score
from churnwhy.models.reason_taxonomy import UNKNOWN, ReasonSettings, normalise_codes, settings_from_config, toml_line
from churnwhy.models.threads import single_blas_thread
from churnwhy.redact import redact
from churnwhy.results.reasons import Classification, TopReason, UnmappedCode
from churnwhy.table import CustomerTable

METHODS = ("code", "rule", "model", "none")
LABEL_COLUMNS = ("why", "what", "confidence", "method")
CV_ROWS = 2_000
CV_FOLDS_LARGE = 3
TOP_PER_CELL = 5  # drill-down: raw reasons shown per why/what cell, of each kind


@dataclasses.dataclass(frozen=True)
class ReasonsFit:
    """Per-row labels (why, what, confidence, method, input) and how the reading went."""

    labels: pl.DataFrame
    summary: Classification

    @property
    def warnings(self) -> tuple[str, ...]:
        # For a library caller: each unmapped code (masked where it looks personal). Reports go through
        # ReasonsResult, which shows only counts unless --include-examples.
        return self.summary.warnings(examples=True)


class _MemoAnalyzer:
    """A TfidfVectorizer analyzer (built from these vectorizer parameters) that remembers each text's tokens.
    Pure, so copies share the memory: scikit-learn deep-copies it when it clones the pipeline for CV."""

    def __init__(self, **params: Any) -> None:
        self.params = params
        self._analyze = TfidfVectorizer(**params).build_analyzer()
        self._memo: dict[str, list[str]] = {}

    def __call__(self, doc: str) -> list[str]:
        tokens = self._memo.get(doc) if self.remember else None
        if tokens is None:
            tokens = self._analyze(doc)
            if self.remember:
                self._memo[doc] = tokens
        return tokens

    remember = True

    def forget(self) -> None:
        """Stop remembering (the memory is ~15 KB an answer; a fitted model keeps its analyzer)."""
        self.remember = False
        self._memo.clear()

    def __deepcopy__(self, memo: dict[int, object]) -> _MemoAnalyzer:
        return self

    def __repr__(self) -> str:
        return f"_MemoAnalyzer({self.params!r})"


class ReasonModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]  # scikit-learn is untyped: its bases are Any
    """Layered reason classifier; predict() gives "why/what" cells, predict_proba() the learned layer's.

    fit(texts, codes) reads every row (codes, rules), trains the learned layer on the confidently
    labelled ones and keeps the reading of the fitted rows in `labels_`.
    """

    def __init__(
        self,
        settings: ReasonSettings | None = None,
        *,
        C: float = 2.0,
        min_class_size: int = 5,
        min_train: int = 30,
        cv: int = 5,
        max_train: int = 5_000,
        random_state: int | None = 0,
    ) -> None:
        self.settings = settings
        self.C = C
        self.min_class_size = min_class_size
        self.min_train = min_train
        self.cv = cv
        self.max_train = max_train  # distinct answers learned from, at most (a random sample beyond)
        self.random_state = random_state

    def fit(self, texts: Iterable[str | None], codes: Iterable[str | None] | None = None, competitors: Iterable[str | None] | None = None) -> ReasonModel:
        # One BLAS thread: at 1M customers the fits took 14-16 s with OpenBLAS threads on a busy 2-core machine,
        # 5-7 s without (models/threads.py).
        with single_blas_thread():
            return self._fit(texts, codes, competitors)

    def _fit(self, texts: Iterable[str | None], codes: Iterable[str | None] | None, competitors: Iterable[str | None] | None) -> ReasonModel:
        settings = self.settings or ReasonSettings()
        self._analyzers: tuple[_MemoAnalyzer, _MemoAnalyzer] | None = None  # fresh n-gram memories for this fit
        frame = _input_frame(texts, codes, competitors)
        base = _codes_and_rules(frame, settings)
        # Training rows: free text we could read, labelled by a code or a confident rule.
        train = base.filter(
            (pl.col("status") == "ok") & (pl.col("why") != UNKNOWN) & pl.col("method").is_in(["code", "rule"])
        ).with_columns(cell=pl.col("why") + "/" + pl.col("what"))
        counts = train["cell"].value_counts()
        keep = counts.filter(pl.col("count") >= self.min_class_size)["cell"]
        train = train.filter(pl.col("cell").is_in(keep.implode()))
        self.pipeline_: Pipeline | None = None
        self.classes_ = np.array(sorted(keep.to_list()), dtype=object)
        self.n_train_ = 0
        self.cv_accuracy_: float | None = None
        self.cv_confusion_: tuple[tuple[str, str, int], ...] = ()
        self.cv_folds_ = 0
        if settings.learn and train.height >= self.min_train and len(self.classes_) >= 2:
            # Exit answers repeat ("too expensive"): learn from each distinct (text, cell) once, weighted by how
            # often it was given. That bounds the work by the vocabulary of answers, not the number of churners,
            # and keeps copies of one answer out of both sides of a CV split (which would flatter the accuracy).
            distinct = (train.group_by("text", "cell").len().sort("text", "cell")
                        .filter(pl.col("cell").is_in(self.classes_.tolist())))
            if distinct.height > self.max_train:
                distinct = distinct.sample(self.max_train, seed=self.random_state or 0).sort("text", "cell")
            x = _clip(distinct["text"], settings.max_chars)
            y = distinct["cell"].to_numpy()
            # Accuracy is estimated on at most CV_ROWS distinct answers (+-1 point of precision), in CV_FOLDS_LARGE
            # folds when there are more: every sampled answer is still predicted once, by a model trained on
            # two thirds of 2,000 answers; 1.3 s less at 1M customers.
            cv_set = distinct if distinct.height <= CV_ROWS else distinct.sample(CV_ROWS, seed=self.random_state or 0)
            max_folds = self.cv if distinct.height <= CV_ROWS else min(self.cv, CV_FOLDS_LARGE)
            folds = int(min(max_folds, cast(int, cv_set["cell"].value_counts()["count"].min())))
            if folds >= 2:
                splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
                cv_x, cv_y = _clip(cv_set["text"], settings.max_chars), cv_set["cell"].to_numpy()
                predicted = cross_val_predict(self._pipeline(), cv_x, cv_y, cv=splitter)
                self.cv_accuracy_ = float(np.mean(predicted == cv_y))
                self.cv_folds_ = folds
                # The learned layer's confusion (true cell, predicted cell, answers): the shares correct for it.
                pairs = pl.DataFrame({"true": cv_y.astype(str), "pred": predicted.astype(str)}).group_by("true", "pred").len()
                self.cv_confusion_ = tuple(sorted((t, p, int(n)) for t, p, n in pairs.iter_rows()))
            weights = distinct["len"].to_numpy().astype(float)
            self.pipeline_ = self._pipeline().fit(x, y, logit__sample_weight=weights)
            self.classes_ = self.pipeline_.classes_
            self.n_train_ = train.height
        self.labels_ = self._apply_model(base, settings)
        if self._analyzers is not None:
            for analyzer in self._analyzers:
                analyzer.forget()
        self.unmapped_codes_ = _unmapped(frame, base, settings)
        self.top_reasons_ = _top_reasons(base, self.labels_)
        return self

    def predict_proba(self, texts: Iterable[str | None]) -> np.ndarray:
        """The learned layer's probabilities over classes_ ("why/what" cells)."""
        check_is_fitted(self, "classes_")
        if self.pipeline_ is None:
            raise ValueError("the learned layer was not trained (too few confidently labelled rows)")
        settings = self.settings or ReasonSettings()
        with single_blas_thread():
            proba: np.ndarray = self.pipeline_.predict_proba(_clip(pl.Series(list(texts), dtype=pl.String),
                                                                   settings.max_chars))
            return proba

    def predict(self, texts: Iterable[str | None], codes: Iterable[str | None] | None = None) -> np.ndarray:
        """The layered reading of each row as a "why/what" cell ("unknown/unknown" when unsure)."""
        frame = self.transform(texts, codes)
        return (frame["why"] + "/" + frame["what"]).to_numpy()

    def transform(self, texts: Iterable[str | None], codes: Iterable[str | None] | None = None, competitors: Iterable[str | None] | None = None) -> pl.DataFrame:
        """The layered reading: why, what, confidence, method, input (one row per text)."""
        check_is_fitted(self, "labels_")
        settings = self.settings or ReasonSettings()
        base = _codes_and_rules(_input_frame(texts, codes, competitors), settings)
        with single_blas_thread():
            return self._apply_model(base, settings)

    def summary(self) -> Classification:
        check_is_fitted(self, "labels_")
        labels = self.labels_
        stated = labels.filter(pl.col("stated"))
        by_method = {m: int((stated["method"] == m).sum()) for m in METHODS}
        text_given = labels.filter(pl.col("input") != "empty")
        by_input = {s: int((text_given["input"] == s).sum()) for s in INPUT_STATUS if s != "empty"}
        by_input["empty"] = int((labels["input"] == "empty").sum())
        settings = self.settings or ReasonSettings()
        return Classification(
            n_stated=stated.height,
            by_method=by_method,
            by_input=by_input,
            n_truncated=int(labels["truncated"].sum()),
            n_train=self.n_train_,
            cv_accuracy=self.cv_accuracy_,
            cv_folds=self.cv_folds_,
            min_confidence=settings.min_confidence,
            unmapped_codes=self.unmapped_codes_,
            top_reasons=self.top_reasons_,
            cv_confusion=self.cv_confusion_,
            read_by=_read_by(stated),
        )

    def _pipeline(self) -> Pipeline:
        # One pair of remembering analyzers per fit: the CV folds, the final fit and the predictions read the
        # same distinct answers, and splitting them into n-grams (Python) was most of the learned layer's time.
        analyzers = getattr(self, "_analyzers", None)
        if analyzers is None:
            analyzers = (_MemoAnalyzer(ngram_range=(1, 2), lowercase=True),
                         _MemoAnalyzer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True))
            self._analyzers = analyzers
        word, char = analyzers
        features = FeatureUnion([
            ("word", TfidfVectorizer(analyzer=word, min_df=1, sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer=char, min_df=2, max_features=20000, sublinear_tf=True)),
        ])
        return Pipeline([
            ("tfidf", features),
            ("logit", LogisticRegression(C=self.C, tol=1e-3, max_iter=500, random_state=self.random_state)),
        ])

    def _apply_model(self, base: pl.DataFrame, settings: ReasonSettings) -> pl.DataFrame:
        todo = (pl.col("status") == "ok") & (pl.col("why") == UNKNOWN) & (pl.col("method") == "none")
        if self.pipeline_ is not None and base.select(todo.any()).item():
            idx = base.with_row_index("_i").filter(todo)["_i"]
            # Each distinct answer is read once, then spread back to the rows that gave it.
            clipped = base["text"].gather(idx).fill_null("").str.slice(0, settings.max_chars).alias("t")
            distinct, inv = distinct_rows(clipped.to_frame())
            texts = distinct["t"].to_list()
            proba = self.pipeline_.predict_proba(texts)[inv]
            # A text sharing no word with the training texts ("asdfgh") gets the class prior back: not a reading.
            word_vec = self.pipeline_.named_steps["tfidf"].transformer_list[0][1]
            seen = (np.asarray(word_vec.transform(texts).getnnz(axis=1)) > 0)[inv]
            cells = [c.split("/") for c in self.pipeline_.classes_]
            whys = sorted({w for w, _ in cells})
            # The why axis is decided on its marginal probability, what on the joint cell's.
            why_p = np.column_stack([proba[:, [i for i, (w, _) in enumerate(cells) if w == y]].sum(axis=1) for y in whys])
            best_why = why_p.argmax(axis=1)
            best_cell = proba.argmax(axis=1)
            floor = settings.min_confidence
            p_why = why_p[np.arange(len(idx)), best_why]
            p_cell = proba[np.arange(len(idx)), best_cell]
            why = np.where(seen & (p_why >= floor), np.array(whys, dtype=object)[best_why], UNKNOWN)
            cell_why = np.array([cells[i][0] for i in best_cell], dtype=object)
            cell_what = np.array([cells[i][1] for i in best_cell], dtype=object)
            what = np.where((p_cell >= floor) & (cell_why == why), cell_what, UNKNOWN)
            conf = np.where(what != UNKNOWN, p_cell, p_why)
            upd = pl.DataFrame({
                "_i": idx,
                "_mwhy": pl.Series(why.tolist(), dtype=pl.String),
                "_mwhat": pl.Series(what.tolist(), dtype=pl.String),
                "_mconf": pl.Series(conf.astype(float)),
            })
            base = base.with_row_index("_i").join(upd, on="_i", how="left").sort("_i").drop("_i")
            hit = pl.col("_mwhy").is_not_null() & (pl.col("_mwhy") != UNKNOWN)
            base = base.with_columns(
                why=pl.when(hit).then(pl.col("_mwhy")).otherwise(pl.col("why")),
                what=pl.when(hit).then(pl.col("_mwhat")).otherwise(pl.col("what")),
                method=pl.when(hit).then(pl.lit("model")).otherwise(pl.col("method")),
                confidence=pl.when(pl.col("_mconf").is_not_null() & (pl.col("method") == "none"))
                .then(pl.col("_mconf")).otherwise(pl.col("confidence")),
            ).drop("_mwhy", "_mwhat", "_mconf")
        return base.select(*LABEL_COLUMNS, input=pl.col("status"), stated=pl.col("stated"), truncated=pl.col("truncated"))


def classify(
    texts: Iterable[str | None], codes: Iterable[str | None] | None = None, config: Any | None = None
) -> pl.DataFrame:
    """Classify stated reasons: one row per input, columns why, what, confidence, method."""
    return classify_report(texts, codes, config).labels.select(LABEL_COLUMNS)


def classify_report(
    texts: Iterable[str | None],
    codes: Iterable[str | None] | None = None,
    config: Any | None = None,
    competitors: Iterable[str | None] | None = None,
) -> ReasonsFit:
    """classify(), plus input counts, learned-layer accuracy and unmapped-code warnings (returned, not printed)."""
    settings = settings_from_config(config)
    model = ReasonModel(settings, random_state=settings.seed).fit(texts, codes, competitors)
    return ReasonsFit(model.labels_, model.summary())


def attach_stated_reasons(table: CustomerTable, config: Any | None = None) -> tuple[CustomerTable, ReasonsFit]:
    """Add why, what, reason_source (stated | none) and reason_confidence to the table's frame.

    Only churners' reasons are read; other customers get why/what `unknown` and source `none`.
    """
    frame = table.frame
    churned = frame["churned"].fill_null(False)
    # Only churners are read (a quarter of the rows, typically); everyone else is `unknown` / `none`.
    churners = frame.filter(churned)

    def column(name: str) -> pl.Series:
        n = churners.height
        return churners[name].cast(pl.String) if name in churners.columns else pl.Series(name, [None] * n, dtype=pl.String)

    fit = classify_report(column("reason_text"), column("reason_code"), config, competitors=column("competitor"))
    labels = fit.labels
    read = pl.DataFrame({
        "why": labels["why"],
        "what": labels["what"],
        "reason_source": pl.select(pl.when(labels["stated"]).then(pl.lit("stated")).otherwise(pl.lit("none"))).to_series(),
        "reason_confidence": labels["confidence"],
    })
    # Scatter the churners' readings back into table order.
    position = pl.Series(range(frame.height)).filter(churned)
    added = (
        pl.DataFrame({"__i": range(frame.height)})
        .join(read.with_columns(__i=position), on="__i", how="left")
        .sort("__i")
        .select(
            pl.col("why").fill_null(UNKNOWN), pl.col("what").fill_null(UNKNOWN),
            pl.col("reason_source").fill_null("none"), pl.col("reason_confidence"),
        )
    )
    out = frame.drop([c for c in added.columns if c in frame.columns]).hstack(added)
    return dataclasses.replace(table, frame=out), fit


# --- helpers


def _input_frame(texts: Iterable[str | None], codes: Iterable[str | None] | None, competitors: Iterable[str | None] | None) -> pl.DataFrame:
    text = _series(texts, "text")
    n = text.len()
    code = _series(codes, "code_raw") if codes is not None else pl.Series("code_raw", [None] * n, dtype=pl.String)
    comp = _series(competitors, "competitor") if competitors is not None else pl.Series("competitor", [None] * n, dtype=pl.String)
    if code.len() != n or comp.len() != n:
        raise ValueError(f"texts ({n}), codes ({code.len()}) and competitors ({comp.len()}) must have the same length")
    return pl.DataFrame([text, code, comp]).with_columns(code=normalise_codes(code))


def _series(values: Iterable[str | None], name: str) -> pl.Series:
    if isinstance(values, pl.Series):
        return values.cast(pl.String).alias(name)
    if not isinstance(values, Sequence | np.ndarray):
        values = list(values)
    return pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String)


def _clip(texts: pl.Series, max_chars: int) -> list[str]:
    return texts.fill_null("").str.slice(0, max_chars).to_list()


def _code_table(settings: ReasonSettings) -> pl.DataFrame:
    items = sorted(settings.codes.items())
    return pl.DataFrame(
        {"code": [k for k, _ in items], "_cwhy": [v[0] for _, v in items], "_cwhat": [v[1] for _, v in items]},
        schema={"code": pl.String, "_cwhy": pl.String, "_cwhat": pl.String},
    )


def _codes_and_rules(frame: pl.DataFrame, settings: ReasonSettings) -> pl.DataFrame:
    """Layers 1 and 2: code mapping, then rules; returns text, code, why, what, confidence, method, status..."""
    frame = frame.join(_code_table(settings), on="code", how="left", maintain_order="left")
    # A code the taxonomy does not know, given without text, is read by the rules as words
    # ("PROMO_ENDED" -> "promo ended"); it is still counted as unmapped.
    blank = pl.col("text").is_null() | (pl.col("text").str.strip_chars() == "")
    frame = frame.with_columns(
        text=pl.when(blank & pl.col("code").is_not_null() & pl.col("_cwhy").is_null()).then(pl.col("code_raw"))
        .otherwise(pl.col("text"))
    )
    rules = score(frame, settings, competitor="competitor")
    df = pl.concat([frame, rules.rename({"why": "_rwhy", "what": "_rwhat"})], how="horizontal")
    code_why = pl.col("_cwhy").is_not_null() & (pl.col("_cwhy") != UNKNOWN)
    code_what = pl.col("_cwhat").is_not_null() & (pl.col("_cwhat") != UNKNOWN)
    rule_why = pl.col("_rwhy") != UNKNOWN
    rule_what = pl.col("_rwhat") != UNKNOWN
    # Rules only count where the text could be read.
    readable = pl.col("status") == "ok"
    rule_conf = (
        pl.when(rule_why & rule_what).then(pl.min_horizontal("why_conf", "what_conf"))
        .when(rule_why).then(pl.col("why_conf"))
        .otherwise(pl.max_horizontal("why_conf", "what_conf"))
    )
    return df.select(
        "text",
        "code",
        "status",
        "truncated",
        why=pl.when(code_why).then(pl.col("_cwhy")).when(readable & rule_why).then(pl.col("_rwhy")).otherwise(pl.lit(UNKNOWN)),
        what=pl.when(code_what).then(pl.col("_cwhat"))
        .when(readable & rule_what).then(pl.col("_rwhat"))
        .otherwise(pl.lit(UNKNOWN)),
        confidence=pl.when(code_why & code_what).then(pl.lit(1.0))
        .when(code_why).then(pl.when(readable & rule_what).then(pl.col("what_conf")).otherwise(pl.lit(1.0)))
        .when(readable).then(rule_conf)
        .otherwise(pl.lit(None, dtype=pl.Float64)),
        method=pl.when(code_why).then(pl.lit("code")).when(readable & (rule_why | pl.col("no_reason"))).then(pl.lit("rule"))
        .otherwise(pl.lit("none")),
        stated=pl.col("code").is_not_null() | (pl.col("status") != "empty"),
        _unmapped=pl.col("code").is_not_null() & pl.col("_cwhy").is_null(),
    )


def _unmapped(frame: pl.DataFrame, base: pl.DataFrame, settings: ReasonSettings) -> tuple[UnmappedCode, ...]:
    """Each code missing from the taxonomy, its count, and the [reasons.codes] line that maps it."""
    raw = frame.select("code_raw", "code").filter(base["_unmapped"])
    if raw.is_empty():
        return ()
    counts = raw.group_by("code").agg(n=pl.len(), shown=pl.col("code_raw").str.strip_chars().mode().min()).sort(["n", "code"], descending=[True, False])
    # Suggest the cell the rule layer reads in the code itself ("PROMO_ENDED" -> "promo ended").
    guess = score(counts.select(text=pl.col("code").str.replace_all("_", " ").str.to_lowercase()), settings)
    out = []
    for row, why, what in zip(counts.iter_rows(named=True), guess["why"], guess["what"], strict=True):
        out.append(UnmappedCode(row["shown"], int(row["n"]), toml_line(row["shown"], f"{why}/{what}")))
    return tuple(out)


def _top_reasons(base: pl.DataFrame, labels: pl.DataFrame) -> tuple[TopReason, ...]:
    """The commonest taxonomy codes and normalised answers (lower case, single spaces, masked, cut at 80
    characters) per why/what cell, with counts. Answers are only ever shown with --include-examples."""
    df = pl.DataFrame({
        "cell": labels["why"] + "/" + labels["what"], "code": base["code"], "unmapped": base["_unmapped"],
        "text": base["text"], "status": base["status"], "stated": labels["stated"],
    }).filter(pl.col("stated"))
    if df.is_empty():
        return ()
    totals = dict(df.group_by("cell").len().iter_rows())
    codes = (df.filter(pl.col("code").is_not_null() & ~pl.col("unmapped"))
             .group_by("cell", pl.col("code").alias("value")).len().with_columns(kind=pl.lit("code")))
    texts = (df.filter((pl.col("code").is_null() | pl.col("unmapped")) & pl.col("text").is_not_null())
             .with_columns(value=pl.col("text").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
                           .str.slice(0, 80))
             .filter(pl.col("value") != "")
             .group_by("cell", "value").len().with_columns(kind=pl.lit("text")))
    out: list[TopReason] = []
    for part in (codes, texts):
        top = part.sort(["cell", "len", "value"], descending=[False, True, False]).group_by("cell", maintain_order=True).head(TOP_PER_CELL)
        for cell, value, n, kind in top.select("cell", "value", "len", "kind").iter_rows():
            shown = value if kind == "code" else redact(value)
            out.append(TopReason(cell, kind, shown, int(n), n / totals[cell]))
    return tuple(sorted(out, key=lambda t: (t.cell, t.kind, -t.count, t.value)))


def _read_by(stated: pl.DataFrame) -> tuple[tuple[str, str, str, int], ...]:
    """(axis, label, "model" | "given", stated answers): which labels the learned layer supplied."""
    out = []
    for axis in ("why", "what"):
        counts = stated.group_by(axis, source=pl.when(pl.col("method") == "model").then(pl.lit("model"))
                                 .otherwise(pl.lit("given"))).len()
        out += [(axis, str(label), str(src), int(n)) for label, src, n in counts.iter_rows()]
    return tuple(sorted(out))
