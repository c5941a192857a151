"""Any result of core.services.analytics as JSON-ready data, for the Mini App's API."""

from __future__ import annotations

import dataclasses
import enum
from datetime import date, datetime
from decimal import Decimal


def as_json(value):
    """Any result of this package as JSON-ready data: dataclasses → dicts, Decimal → exact string, datetimes and dates
    → ISO strings, enums → their value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in ("total", "sent"):  # derived figures the readers want too
            if isinstance(getattr(type(value), name, None), property):
                data[name] = as_json(getattr(value, name))
        return data
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [as_json(v) for v in value]
    return value
