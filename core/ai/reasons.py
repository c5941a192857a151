"""Reasons as typed codes: why the decision engine sent, held or escalated a draft, what the self-check found, why
the handoff detector held a reply — stored as {"code": <locale key>, "args": {...}} and put into words in the
reader's language when shown (a Russian-speaking owner and an English-speaking manager read the same card).

A `Reason` is also the text in the locale it was made for (a `str`), so code that only shows or joins reasons keeps
working. An argument is a plain value (a figure, a phrase the customer wrote), another reason (a self-check finding
inside "self-check failed", an intent's name), or a list of reasons. Rows stored before reasons had codes keep their
text, shown as it is.
"""

from __future__ import annotations

from typing import Any

from ..i18n import DEFAULT_LOCALE, has, t

LIST_SEPARATOR = "; "


class Reason(str):
    """A reason's text in one locale, carrying its code and arguments to be put into words in any other."""

    code: str
    args: dict[str, Any]
    fallback: str | None

    def __new__(cls, code: str, args: dict[str, Any] | None = None, *, locale: str | None = None,
                fallback: str | None = None) -> Reason:
        args = dict(args or {})
        made = super().__new__(cls, _words(code, args, locale or DEFAULT_LOCALE, fallback))
        made.code, made.args, made.fallback = code, args, fallback
        return made

    def __reduce__(self):  # copies (dataclasses.asdict) and pickles keep the text as made, and the code
        return _restore, (str(self), self.code, self.args, self.fallback)

    def as_code(self) -> dict:
        out: dict[str, Any] = {"code": self.code, "args": {k: _stored(v) for k, v in self.args.items()}}
        if self.fallback is not None:
            out["fallback"] = self.fallback
        return out

    def in_locale(self, locale: str | None) -> str:
        return _words(self.code, self.args, locale or DEFAULT_LOCALE, self.fallback)


def _restore(text_: str, code: str, args: dict, fallback: str | None) -> Reason:
    made = str.__new__(Reason, text_)
    made.code, made.args, made.fallback = code, args, fallback
    return made


def _stored(value: Any) -> Any:
    if isinstance(value, Reason):
        return value.as_code()
    if isinstance(value, (list, tuple)):
        return [_stored(v) for v in value]
    return value


def _shown(value: Any, locale: str) -> Any:
    if isinstance(value, Reason):
        return value.in_locale(locale)
    if isinstance(value, dict) and "code" in value:
        return render(value, locale)
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(str(_shown(v, locale)) for v in value)
    if isinstance(value, float):
        return f"{value:.2f}"  # confidences and thresholds read "0.85" in every language, as the settings show them
    return value


def _words(code: str, args: dict, locale: str, fallback: str | None) -> str:
    key = code
    if fallback is not None and not has(key, locale):
        return fallback
    return t(key, locale, **{k: _shown(v, locale) for k, v in args.items()})


def render(stored: dict | str | None, locale: str | None = None) -> str:
    """A stored reason ({"code", "args"}) in `locale`; a legacy text as it is; None as ""."""
    if stored is None:
        return ""
    if isinstance(stored, Reason):
        return stored.in_locale(locale)
    if isinstance(stored, str):
        return stored
    code = stored.get("code")
    fallback = stored.get("fallback")
    if not isinstance(code, str) or not (has(code, locale or DEFAULT_LOCALE) or fallback is not None):
        return str(fallback or "")
    return _words(code, stored.get("args") or {}, locale or DEFAULT_LOCALE, fallback)


def codes(reasons: list) -> list[dict]:
    """What a stored row keeps: each reason's code and arguments (a plain text stays a text)."""
    return [r.as_code() if isinstance(r, Reason) else str(r) for r in reasons]


def shown(text_: str | None, code: dict | str | None, locale: str | None) -> str:
    """What a card or page shows: the coded reason in the reader's language when the row has one, else the text
    stored before reasons had codes."""
    if code:
        words = render(code, locale)
        if words:
            return words
    return text_ or ""


def suggestion_reason_code(suggestion) -> dict | None:
    """The coded headline reason of a draft (what `decision_reason` says in the default locale), if it has one."""
    stored = ((suggestion.inputs or {}).get("reason_codes") or [None])[0] if suggestion is not None else None
    return stored if isinstance(stored, dict) else None


def same_reason_code(text_: str | None, suggestion) -> dict | None:
    """The code behind a text copied from a draft's reason (an AI escalation's reason, a manager's "to clarify"):
    the draft's coded reason when the text is that reason's, else None (a manager's own words stay as written)."""
    if not text_ or suggestion is None or text_ != suggestion.decision_reason:
        return None
    return suggestion_reason_code(suggestion)
