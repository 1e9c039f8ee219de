"""A text classifier trained on the platform's own routed history.

It suggests the service (and hence category and, through routing, the agency) of a report
from its text, with a confidence. Features: word TF-IDF over Indonesian-aware tokens (lower
case, no punctuation, no stop words, light affix stripping) plus character n-grams, which
cope with typos and SMS spelling ("ktp" / "e-ktp" / "ktpel"). Model: logistic regression.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import joblib
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.complaints.models import Report
from satu.complaints.text import tokens
from satu.core.config import get_settings

MIN_EXAMPLES = 30


def default_path() -> Path:
    """Where the trained model is kept (beside the embedded database, in `var_dir`)."""
    return get_settings().var_dir / "complaints-classifier.joblib"


@dataclass
class Model:
    """A trained classifier."""

    words: TfidfVectorizer
    chars: TfidfVectorizer
    model: LogisticRegression
    service_category: dict[str, str]
    trained_on: int

    def _features(self, texts: list[str]):  # type: ignore[no-untyped-def]
        return hstack([self.words.transform(texts), self.chars.transform(texts)]).tocsr()

    def predict(self, text: str) -> tuple[str, str, float]:
        """(service code, category code, confidence) for one text."""
        probabilities = self.model.predict_proba(self._features([text]))[0]
        best = int(probabilities.argmax())
        service = str(self.model.classes_[best])
        return service, self.service_category.get(service, ""), float(probabilities[best])

    def accuracy(self, texts: list[str], services: list[str]) -> float:
        """Share of texts whose predicted service is right."""
        if not texts:
            return 0.0
        predicted = self.model.predict(self._features(texts))
        return float(sum(p == s for p, s in zip(predicted, services, strict=True)) / len(texts))


def _analyzer(text: str) -> list[str]:
    return tokens(text)


def fit(texts: list[str], services: list[str], service_category: dict[str, str]) -> Model:
    """Train on (text, service) pairs."""
    if len(texts) < MIN_EXAMPLES or len(set(services)) < 2:
        raise ValueError(f"need at least {MIN_EXAMPLES} examples of two or more services")
    words = TfidfVectorizer(analyzer=_analyzer, sublinear_tf=True, min_df=2, max_features=50_000)
    chars = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 5),
        lowercase=True,
        sublinear_tf=True,
        min_df=2,
        max_features=100_000,
    )
    features = hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
    model = LogisticRegression(max_iter=300, C=5.0)
    model.fit(features, services)
    return Model(words, chars, model, dict(service_category), len(texts))


def history(*, session: Session, limit: int = 40_000) -> tuple[list[str], list[str], dict]:
    """The routed history: texts of verified reports and the service they were settled under."""
    rows = session.execute(
        select(Report.title, Report.body, Report.service_code, Report.category_code)
        .where(Report.verified_at.is_not(None), Report.service_code != "pelayanan-lainnya")
        .order_by(Report.id.desc())
        .limit(limit)
    ).all()
    texts = [f"{title}\n{body}" for title, body, _, _ in rows]
    services = [service for _, _, service, _ in rows]
    mapping = {service: category for _, _, service, category in rows}
    return texts, services, mapping


_lock = threading.Lock()
_current: dict[str, Model] = {}


def _key(session: Session) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def train(*, session: Session, path: Path | None = None, limit: int = 40_000) -> Model:
    """Train on the history, make it the current model, and save it to `path` if given."""
    texts, services, mapping = history(session=session, limit=limit)
    model = fit(texts, services, mapping)
    with _lock:
        _current[_key(session)] = model
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, path)
    return model


def current(*, session: Session, path: Path | None = None) -> Model | None:
    """The current model for this database, loaded from `path` when none is in memory."""
    key = _key(session)
    with _lock:
        model = _current.get(key)
    if model is None and path is not None and path.is_file():
        loaded = joblib.load(path)  # written by `train` on this machine only
        if isinstance(loaded, Model):
            with _lock:
                _current[key] = loaded
            model = loaded
    return model


def forget(*, session: Session) -> None:
    """Drop the in-memory model for this database."""
    with _lock:
        _current.pop(_key(session), None)
