"""The BATCH storage probe: may the tap write under ``batch_config.storage.root``?

Checked before any export job, so that a missing fsspec backend, a wrong secret or a
read-only bucket ends the run in one line instead of after every export was waited for.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from upath import UPath

from tap_activities.errors import ConfigError
from tap_activities.redact import REDACTOR

if TYPE_CHECKING:  # the SDK names it only in a private module: a hint, never an import
    from singer_sdk.helpers._batch import BatchConfig

PROBE_SETTING = "batch_config.storage.root"
SECRET_PARAMS = ("key", "secret", "token", "password", "client_secret", "account_key")
"""Storage parameters whose values never reach a log line or an error."""


def check_storage(config: BatchConfig) -> None:
    """Write and delete a probe object under ``storage.root``, before any export job.

    A missing fsspec backend (s3fs), a wrong secret or a bucket the credentials may not
    write to would otherwise show only at the first batch file, after every export job of
    the run was made and waited for. Any failure is one line naming the setting.
    """
    storage = config.storage
    REDACTOR.add(*(str(v) for k, v in (storage.params or {}).items() if k in SECRET_PARAMS))
    root = storage.root
    name = f"{storage.prefix or ''}tap-activities-probe-{uuid.uuid4().hex}"
    try:
        with storage.open(name, "wb") as probe:
            probe.write(b"tap-activities checks that it may write here; delete me\n")
        UPath(root, **(storage.params or {})).joinpath(name).unlink()
    except ImportError as exc:
        scheme = root.split("://", 1)[0] if "://" in root else "file"
        extra = " (pip install 'tap-activities[s3]')" if scheme in {"s3", "s3a"} else ""
        msg = (
            f"'{PROBE_SETTING}' is {root}, but this installation cannot write {scheme}:// "
            f"storage ({exc}){extra}"
        )
        raise ConfigError(msg) from None
    except Exception as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        msg = (
            f"'{PROBE_SETTING}' is {root}, but the tap cannot write a file there "
            f"({type(exc).__name__}: {reason}); check the path, the credentials "
            "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for s3://) and the bucket's permissions"
        )
        raise ConfigError(msg) from None
