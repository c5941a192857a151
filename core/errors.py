"""Errors a person can act on. The CLI prints their message as one line; bot and Mini App show it as is.

An error may name its text in the locale files: `code` is the text's key (`tenants.error.unknown`) and `params` its
variables; `text(locale)` renders it in the reader's language. The message given to the exception is the English
fallback (logs, and readers of a locale without that text)."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a refused action: shown to the user, never a traceback."""

    code: str | None = None

    def __init__(self, message: str = "", /, *, code: str | None = None, **params):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.params = params

    def text(self, locale: str | None = None) -> str:
        """The error in `locale`'s words when its code names a text, else its English message."""
        from .i18n import has, t

        if self.code and "." in self.code and has(self.code, locale):
            return t(self.code, locale, **self.params)
        return str(self)


class ConfigError(UserError):
    """A setting is missing or wrong."""


class NotFound(UserError):
    pass


class Conflict(UserError):
    """The thing exists already (duplicate slug, second import of the same channel running...)."""


class PermissionDenied(UserError):
    pass


class NotAuthenticated(UserError):
    """Who is asking cannot be established (missing, forged or expired credentials)."""
