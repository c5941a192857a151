"""Errors a person can act on. The CLI prints their message as one line; bot and Mini App show it as is."""


class UserError(Exception):
    """Bad input or a refused action: shown to the user, never a traceback."""


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
